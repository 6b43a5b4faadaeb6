package password_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authsys-go/authsys/internal/password"
)

func TestValidate(t *testing.T) {
	const email = "Alice.Smith@example.com"
	tests := []struct {
		name, password, email string
		want                  []string
	}{
		{"good", "violet-otter-sings-42", email, nil},
		{"good unicode", "über-sicheres Passwort", email, nil},
		{"exactly 8 bytes", "xk3#pq9z", email, nil},
		{"exactly 1024 bytes", strings.Repeat("ab", 511) + "cd", email, nil},
		{"1024 bytes, one unit repeated", strings.Repeat("ab", 512), email, []string{password.CodeCommon}},
		{"empty", "", email, []string{password.CodeTooShort}},
		{"7 bytes", "xk3#pq9", email, []string{password.CodeTooShort}},
		{"1025 bytes", strings.Repeat("a", 1024) + "b", email, []string{password.CodeTooLong}},
		{"all digits", "93817264059", email, []string{password.CodeNumeric}},
		{"all digits, short", "4821", email, []string{password.CodeTooShort, password.CodeNumeric}},
		{"non-ASCII digits", "١٢٣٤٥٦٧٨", email, []string{password.CodeNumeric}},
		{"equals email", email, email, []string{password.CodeLikeEmail}},
		{"equals email, other case", strings.ToUpper(email), email, []string{password.CodeLikeEmail}},
		{"equals local part", "alice.smith", email, []string{password.CodeLikeEmail}},
		{"contains local part", "alice.smith-2024!", email, nil},
		{"no email given", "alice.smith", "", nil},
		{"common", "password", email, []string{password.CodeCommon}},
		{"common, other case", "IloveYou1", email, []string{password.CodeCommon}},
		{"common and numeric", "12345678", email, []string{password.CodeNumeric, password.CodeCommon}},
		{"common and like email", "qwertyuiop", "qwertyuiop@example.com", []string{password.CodeLikeEmail, password.CodeCommon}},
		{"from Django's list", "baseball1", email, []string{password.CodeCommon}},
		{"common word repeated", "passwordpassword", email, []string{password.CodeCommon}},
		{"common word thrice, other case", "QwertyQWERTYqwerty", email, []string{password.CodeCommon}},
		{"one character repeated", "zzzzzzzzzz", email, []string{password.CodeCommon}},
		{"three characters repeated", "xq!xq!xq!", email, []string{password.CodeCommon}},
		{"non-ASCII unit repeated", "äöüäöüäöü", email, []string{password.CodeCommon}},
		{"common word and a year", "Summer2031", email, []string{password.CodeCommon}},
		{"common word and symbols", "sunshine!!", email, []string{password.CodeCommon}},
		{"common word and 4 digits and symbols", "dragon19#!", email, []string{password.CodeCommon}},
		{"repeated word and a suffix", "passwordpassword1!", email, []string{password.CodeCommon}},
		{"unknown unit of 4 repeated", "kq7vkq7vkq7v", email, nil},
		{"common word and 5 digits", "dragon84613", email, nil},
		{"common word inside", "my dragon is 84", email, nil},
		{"common word then a letter", "sunshine2024x", email, nil},
		{"only symbols and digits", "#8%1)9&4;", email, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := password.Validate(tt.password, tt.email); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	b, err := os.ReadFile("common_passwords.txt")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		w := strings.TrimSuffix(line, "\n")
		switch {
		case w == "" || w != strings.ToLower(w) || w != strings.TrimSpace(w):
			t.Errorf("%q: want a non-empty lower-case line without surrounding space", w)
		case seen[w]:
			t.Errorf("%q: got it twice, want once", w)
		}
		seen[w] = true
		// Entries shorter than MinLength fail the length rule first, and
		// serve as the stems and units of longer common passwords.
		if len(w) >= password.MinLength {
			if got := password.Validate(w, ""); !slices.Contains(got, password.CodeCommon) {
				t.Errorf("Validate(%q): got %q, want %q among them", w, got, password.CodeCommon)
			}
		}
	}
	if len(seen) < 19_700 {
		t.Errorf("got %d common passwords, want Django's list (about 19,700 after its deduplication)", len(seen))
	}
	for _, w := range []string{"password", "12345678", "qwertyuiop", "iloveyou1", "qwerty", "contraseña"} {
		if !seen[w] {
			t.Errorf("got no %q in the list, want it", w)
		}
	}
}

// FuzzValidate checks that Validate takes any input, valid UTF-8 or not,
// and that a password of at least MinLength bytes made of a unit of at
// most 3 bytes repeated is always common.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"", "passwordpassword", "Summer2024!", "\xff\xfe\xff\xfe\xff\xfe\xff\xfe", "äöüäöüäöü", "zzzzzzzz1234"} {
		f.Add(s, "alice@example.com")
	}
	f.Fuzz(func(t *testing.T, pw, email string) {
		got := password.Validate(pw, email)
		if len(pw) >= password.MinLength {
			for d := 1; d <= 3 && d < len(pw); d++ {
				if len(pw)%d == 0 && strings.Repeat(pw[:d], len(pw)/d) == pw && utf8.ValidString(pw) && !slices.Contains(got, password.CodeCommon) {
					t.Errorf("Validate(%q): got %q, want %q among them", pw, got, password.CodeCommon)
				}
			}
		}
	})
}

package password_test

import (
	"os"
	"slices"
	"strings"
	"testing"

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
		{"exactly 1024 bytes", strings.Repeat("ab", 512), email, nil},
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
		case len(w) < password.MinLength:
			t.Errorf("%q: got %d bytes, want at least %d (shorter ones fail the length rule anyway)", w, len(w), password.MinLength)
		case w != strings.ToLower(w) || w != strings.TrimSpace(w):
			t.Errorf("%q: want lower case without surrounding space", w)
		case seen[w]:
			t.Errorf("%q: got it twice, want once", w)
		}
		seen[w] = true
		if got := password.Validate(w, ""); !slices.Contains(got, password.CodeCommon) {
			t.Errorf("Validate(%q): got %q, want %q among them", w, got, password.CodeCommon)
		}
	}
	if len(seen) < 200 {
		t.Errorf("got %d common passwords, want at least 200", len(seen))
	}
	for _, w := range []string{"password", "12345678", "qwertyuiop", "iloveyou1"} {
		if !seen[w] {
			t.Errorf("got no %q in the list, want it", w)
		}
	}
}

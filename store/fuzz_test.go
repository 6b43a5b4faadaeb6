package store_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/authsys-go/authsys/store"
)

// FuzzNormalizeEmail checks that NormalizeEmail, the unique key of every
// account, is idempotent (a stored key normalizes to itself, so a lookup by
// the stored address finds it), keeps no surrounding white space, is
// lower-case, never grows an ASCII input, and maps every ASCII spelling
// that differs only in case or surrounding white space to one key.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"jane@example.com",
		"  Jane.Doe+tag@Example.COM \t\r\n",
		"",
		" ",
		"@",
		"JANE@EXAMPLE.COM",
		"\u00a0jane@example.com\u0085",
		"\u2028x@y\u3000",
		"İSTANBUL@EXAMPLE.COM",
		"ǅ@ǈ.ǋ",
		"K@example.com", // Kelvin sign
		"\xff\xfeA@B",
		"a\x00b@c",
		"\"quoted local\"@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := store.NormalizeEmail(s)
		if again := store.NormalizeEmail(n); again != n {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q: not idempotent", s, n, n, again)
		}
		if strings.TrimSpace(n) != n {
			t.Fatalf("NormalizeEmail(%q) = %q keeps surrounding white space", s, n)
		}
		if strings.ToLower(n) != n {
			t.Fatalf("NormalizeEmail(%q) = %q is not lower-case", s, n)
		}
		for _, r := range n {
			if unicode.IsUpper(r) && unicode.ToLower(r) != r {
				t.Fatalf("NormalizeEmail(%q) = %q holds the upper-case rune %q", s, n, r)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(n) {
			t.Fatalf("NormalizeEmail(%q) = %q: valid UTF-8 became invalid", s, n)
		}
		if isASCII(s) {
			if len(n) > len(s) {
				t.Fatalf("NormalizeEmail(%q) = %q is longer than its ASCII input", s, n)
			}
			// Any ASCII re-casing, padded with white space, gives the
			// same key.
			for _, v := range []string{strings.ToUpper(s), swapCase(s), " \t" + s + "\r\n "} {
				if got := store.NormalizeEmail(v); got != n {
					t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q", s, n, v, got)
				}
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// swapCase swaps the case of every ASCII letter of s.
func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

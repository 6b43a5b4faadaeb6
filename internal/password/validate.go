package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Bounds on the length of a new password, in bytes of UTF-8.
const (
	// MinLength is the shortest acceptable password, in bytes.
	MinLength = 8
	// MaxLength is the longest acceptable password, in bytes.
	MaxLength = 1024
)

// The problems Validate reports: stable codes, the codes of the field
// errors a client receives (the server owns their messages).
const (
	// CodeTooShort: the password is shorter than MinLength bytes.
	CodeTooShort = "password_too_short"
	// CodeTooLong: the password is longer than MaxLength bytes.
	CodeTooLong = "password_too_long"
	// CodeNumeric: the password consists of digits only.
	CodeNumeric = "password_entirely_numeric"
	// CodeLikeEmail: the password equals the email address or its local
	// part.
	CodeLikeEmail = "password_too_similar"
	// CodeCommon: the password is on the list of common passwords, or is
	// one of them repeated or followed by a few digits or symbols.
	CodeCommon = "password_too_common"
)

// The embedded list is Django's 20,000 common passwords (lower case; see
// common_passwords.LICENSE), with its short entries too: they are the
// units and stems that commonPassword looks for.
//
//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 20_000)
	for line := range strings.Lines(commonPasswordsText) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// maxSuffix is the longest run of trailing digits and symbols that
// commonPassword strips: a year, "123", "!!". A longer run adds enough
// guesses that the stem alone does not make the password common.
const maxSuffix = 4

// maxUnit is the longest unit whose repetition is common whatever it is
// ("aaaaaaaa", "abababab", "abcabcabc").
const maxUnit = 3

// commonPassword reports whether password, ignoring case, is on the list;
// or is a list entry, or a string of at most maxUnit characters, repeated
// ("passwordpassword", "abcabcabc"); or is either of these followed by at
// most maxSuffix digits and symbols ("summer2024", "passwordpassword1!").
// These are the first variants a cracker's rules try on a word list.
func commonPassword(password string) bool {
	list := commonPasswords()
	lower := strings.ToLower(password)
	forms := []string{lower}
	if stem := strings.TrimRightFunc(lower, digitOrSymbol); stem != lower && stem != "" && utf8.RuneCountInString(lower[len(stem):]) <= maxSuffix {
		forms = append(forms, stem)
	}
	for _, s := range forms {
		if _, ok := list[s]; ok {
			return true
		}
		// Each unit that s repeats, shortest first. A period of a valid
		// UTF-8 string falls on a rune boundary (s[d] equals s[0], which
		// starts a rune), so each unit is whole characters.
		for d := 1; d <= len(s)/2; d++ {
			if len(s)%d != 0 || s[d:] != s[:len(s)-d] {
				continue
			}
			if _, ok := list[s[:d]]; ok || utf8.RuneCountInString(s[:d]) <= maxUnit {
				return true
			}
		}
	}
	return false
}

func digitOrSymbol(r rune) bool {
	return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// Validate checks a new password and returns the problems found, in a
// fixed order, or nil when it is acceptable. The rules: between MinLength
// and MaxLength bytes (a character outside ASCII counts as more than one);
// not made of digits only; not equal, ignoring case, to email or to the
// part of email before its last "@"; not common: not, ignoring case, on
// an embedded list of 20,000 common passwords, nor one of them (or a
// string of at most 3 characters) repeated, nor either followed by at most
// 4 digits and symbols. Each problem is one of the Code constants.
// Validate is safe for concurrent use.
func Validate(password, email string) []string {
	var problems []string
	switch {
	case len(password) < MinLength:
		problems = append(problems, CodeTooShort)
	case len(password) > MaxLength:
		problems = append(problems, CodeTooLong)
	}
	if password != "" && strings.IndexFunc(password, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		problems = append(problems, CodeNumeric)
	}
	if likeEmail(password, email) {
		problems = append(problems, CodeLikeEmail)
	}
	if password != "" && commonPassword(password) {
		problems = append(problems, CodeCommon)
	}
	return problems
}

// likeEmail reports whether password equals email or its local part,
// ignoring case.
func likeEmail(password, email string) bool {
	email = strings.TrimSpace(email)
	if password == "" || email == "" {
		return false
	}
	if strings.EqualFold(password, email) {
		return true
	}
	if i := strings.LastIndexByte(email, '@'); i > 0 {
		return strings.EqualFold(password, email[:i])
	}
	return false
}

package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
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
	// CodeCommon: the password is on the list of very common passwords.
	CodeCommon = "password_too_common"
)

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{})
	for line := range strings.Lines(commonPasswordsText) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// Validate checks a new password and returns the problems found, in a
// fixed order, or nil when it is acceptable. The rules: between MinLength
// and MaxLength bytes (a character outside ASCII counts as more than one);
// not made of digits only; not equal, ignoring case, to email or to the
// part of email before its last "@"; not, ignoring case, on an embedded
// list of very common passwords. Each problem is one of the Code constants.
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
	if _, ok := commonPasswords()[strings.ToLower(password)]; ok {
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

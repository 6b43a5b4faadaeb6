package authsys

import (
	"context"
	"errors"

	"github.com/authsys-go/authsys/internal/password"
)

// PasswordCandidate is a password about to be set, as Passwords.Policy
// sees it.
type PasswordCandidate struct {
	// UserID is the ID of the account whose password it is; empty at
	// signup, where the account does not exist yet.
	UserID string
	// Email is the account's address; at signup, the address given,
	// trimmed and lower-cased (it may be invalid: its own field error is
	// reported next to the password's).
	Email string
	// Password is the new password as the client sent it: present and at
	// most 1024 bytes.
	Password string
}

// DefaultPasswordPolicy is the password policy a nil Passwords.Policy
// means. It refuses, with one *FieldError per rule broken (joined with
// errors.Join), a password
//
//   - shorter than 8 bytes (password_too_short; a character outside ASCII
//     counts as more than one) or longer than 1024 (password_too_long);
//   - made of digits only (password_entirely_numeric);
//   - equal, ignoring case, to the email address or to its part before
//     the "@" (password_too_similar);
//   - common (password_too_common): on the list of 20,000 common
//     passwords that Django ships, embedded in the module, ignoring case;
//     or one of those, or a string of at most 3 characters, repeated
//     ("passwordpassword", "abcabcabc"); or either followed by at most 4
//     digits and symbols ("summer2024!").
//
// Its field errors have no Message: the response carries the library's
// message for each code. It needs no network, and is safe for concurrent
// use. A policy that adds rules calls it:
//
//	Policy: func(ctx context.Context, p authsys.PasswordCandidate) error {
//		if utf8.RuneCountInString(p.Password) < 12 {
//			return &authsys.FieldError{Code: "password_too_short", Message: "Use at least 12 characters."}
//		}
//		return authsys.DefaultPasswordPolicy(ctx, p)
//	},
func DefaultPasswordPolicy(_ context.Context, p PasswordCandidate) error {
	var errs []error
	for _, code := range password.Validate(p.Password, p.Email) {
		errs = append(errs, &FieldError{Code: code})
	}
	return errors.Join(errs...)
}

// BreachChecker tells whether a password is known from data breaches, for
// Passwords.Breached. pwned.Checker is one. Implementations must be safe
// for concurrent use.
type BreachChecker interface {
	// Breached reports whether password appears in breach data. An error
	// means it could not tell, and refuses the password change with 503
	// service_unavailable; a checker that rather lets passwords through
	// when it cannot tell returns false and nil.
	Breached(ctx context.Context, password string) (bool, error)
}

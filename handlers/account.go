package handlers

import "time"

// Account is the public view of a user: the "user" member of the answers
// of GET /me/ and a login, and what authsys.UserFromContext gives the
// application's handlers. It holds no secret (no password hash, TOTP
// secret or backup code), so json.Marshal of it is safe to send.
type Account struct {
	// ID is the store's ID of the user.
	ID string `json:"id"`
	// Email is the normalized address.
	Email string `json:"email"`
	// EmailVerified records that the owner proved control of Email.
	EmailVerified bool `json:"email_verified"`
	// IsActive is false until the address is verified, or while an
	// administrator has deactivated the account.
	IsActive bool `json:"is_active"`
	// IsStaff grants the admin API with the default Hooks.IsAdmin.
	IsStaff bool `json:"is_staff"`
	// TwoFactorEnabled reports whether TOTP two-factor authentication is
	// on: a password login asks for a code. (An account with a passkey is
	// asked for one too, whatever this says.)
	TwoFactorEnabled bool `json:"two_factor_enabled"`
	// DateJoined is when the account was created (UTC).
	DateJoined time.Time `json:"date_joined"`
	// LastLogin is the time of the last login (UTC); zero, and omitted,
	// if none.
	LastLogin time.Time `json:"last_login,omitzero"`
	// Profile holds the application's own account fields (a deep copy of
	// store.User's Profile) but those declared Private
	// (authsys.ProfileField), omitted when empty.
	Profile map[string]any `json:"profile,omitempty"`
}

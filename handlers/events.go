package handlers

import "time"

// Event kinds, the Kind of an Event.
const (
	EventSignup               = "signup"
	EventSignupExisting       = "signup_existing_email"
	EventAccountVerified      = "account_verified"
	EventLoginSucceeded       = "login_succeeded"
	EventLoginFailed          = "login_failed"
	EventReauthenticated      = "reauthenticated"
	EventLogout               = "logout"
	EventLogoutAll            = "logout_all"
	EventRefreshReuse         = "refresh_token_reuse"
	EventSessionRevoked       = "session_revoked"
	EventPasswordResetRequest = "password_reset_requested"
	EventPasswordReset        = "password_reset"
	EventPasswordChanged      = "password_changed"
	EventEmailChangeRequested = "email_change_requested"
	EventEmailChanged         = "email_changed"
	EventTwoFactorEnabled     = "two_factor_enabled"
	EventTwoFactorDisabled    = "two_factor_disabled"
	EventTwoFactorUsed        = "two_factor_used"
	EventTwoFactorFailed      = "two_factor_failed"
	EventBackupCodeUsed       = "backup_code_used"
	EventBackupCodesRenewed   = "backup_codes_regenerated"
	EventThrottled            = "throttled"
	EventMailFailed           = "mail_failed"
	EventAdminAction          = "admin_action"
	EventAdminDenied          = "admin_access_denied"
	EventPasskeyAdded         = "passkey_added"
	EventPasskeyRemoved       = "passkey_removed"
	EventPasskeyUsed          = "passkey_used"
	EventPasskeyCloneDetected = "passkey_clone_detected"
)

// Event is one security-relevant happening, logged and passed to
// authsys.Hooks.OnEvent. It never carries a secret, token, code or
// password.
type Event struct {
	// Kind is one of the Event* constants.
	Kind string
	// UserID is the account concerned; empty when unknown (e.g. a failed
	// login for an unknown email).
	UserID string
	// Email is the address of the account concerned, when the event
	// knows it (the address after the change for EventEmailChanged). For
	// EventLoginFailed with Reason "unknown_email" it is the address the
	// login tried, which has no account: a typo or a guess, to be treated
	// as personal data all the same. Empty otherwise.
	Email string
	// ActorID is the admin who acted, for admin actions.
	ActorID string
	// Reason qualifies the event (e.g. "wrong_password", "disable_2fa").
	Reason string
	// IP is the client's address as the rate limits see it.
	IP string
	// UserAgent is the request's User-Agent header.
	UserAgent string
	// Time is when it happened, by the Auth's clock.
	Time time.Time
}

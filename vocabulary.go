package authsys

import "github.com/authsys-go/authsys/handlers"

// Problem codes: the stable "code" member of every error response (and
// Problem.Code). Clients branch on these, never on titles or details.
const (
	CodeValidationFailed        = handlers.CodeValidationFailed        // "validation_failed"
	CodeInvalidJSON             = handlers.CodeInvalidJSON             // "invalid_json"
	CodeUnsupportedMediaType    = handlers.CodeUnsupportedMediaType    // "unsupported_media_type"
	CodeRequestTooLarge         = handlers.CodeRequestTooLarge         // "request_too_large"
	CodeMethodNotAllowed        = handlers.CodeMethodNotAllowed        // "method_not_allowed"
	CodeNotFound                = handlers.CodeNotFound                // "not_found"
	CodeCSRFFailed              = handlers.CodeCSRFFailed              // "csrf_failed"
	CodeNotAuthenticated        = handlers.CodeNotAuthenticated        // "not_authenticated"
	CodeInvalidCredentials      = handlers.CodeInvalidCredentials      // "invalid_credentials"
	CodeAccountInactive         = handlers.CodeAccountInactive         // "account_inactive"
	CodeEmailNotVerified        = handlers.CodeEmailNotVerified        // "email_not_verified"
	CodeInvalidToken            = handlers.CodeInvalidToken            // "invalid_token"
	CodeTokenExpired            = handlers.CodeTokenExpired            // "token_expired"
	CodeTokenReused             = handlers.CodeTokenReused             // "token_reused"
	CodeInvalidPassword         = handlers.CodeInvalidPassword         // "invalid_password"
	CodeEmailTaken              = handlers.CodeEmailTaken              // "email_taken"
	CodeThrottled               = handlers.CodeThrottled               // "throttled"
	CodeInvalidCode             = handlers.CodeInvalidCode             // "invalid_code"
	CodeTwoFactorAlreadyEnabled = handlers.CodeTwoFactorAlreadyEnabled // "two_factor_already_enabled"
	CodeTwoFactorNotEnabled     = handlers.CodeTwoFactorNotEnabled     // "two_factor_not_enabled"
	CodeTwoFactorNotSetUp       = handlers.CodeTwoFactorNotSetUp       // "two_factor_not_set_up"
	CodeReauthRequired          = handlers.CodeReauthRequired          // "reauthentication_required"
	CodeSessionExpired          = handlers.CodeSessionExpired          // "session_expired"
	CodeForbidden               = handlers.CodeForbidden               // "forbidden"
	CodeConflict                = handlers.CodeConflict                // "conflict"
	CodeAlreadyVerified         = handlers.CodeAlreadyVerified         // "already_verified"
	CodeNotImplemented          = handlers.CodeNotImplemented          // "not_implemented"
	CodeInvalidAuthMode         = handlers.CodeInvalidAuthMode         // "invalid_auth_mode"
	CodeTokenModeDisabled       = handlers.CodeTokenModeDisabled       // "token_mode_disabled"
	CodeCORSRefused             = handlers.CodeCORSRefused             // "cors_refused"
	CodeServiceUnavailable      = handlers.CodeServiceUnavailable      // "service_unavailable"
	CodeInternalError           = handlers.CodeInternalError           // "internal_error"
	CodePasskeyInvalid          = handlers.CodePasskeyInvalid          // "passkey_invalid"
	CodePasskeyRequired         = handlers.CodePasskeyRequired         // "passkey_required"
)

// Event kinds: the Kind of every Event passed to Hooks.OnEvent and logged.
const (
	EventSignup               = handlers.EventSignup               // "signup"
	EventSignupExisting       = handlers.EventSignupExisting       // "signup_existing_email"
	EventAccountVerified      = handlers.EventAccountVerified      // "account_verified"
	EventLoginSucceeded       = handlers.EventLoginSucceeded       // "login_succeeded"
	EventLoginFailed          = handlers.EventLoginFailed          // "login_failed"
	EventReauthenticated      = handlers.EventReauthenticated      // "reauthenticated"
	EventLogout               = handlers.EventLogout               // "logout"
	EventLogoutAll            = handlers.EventLogoutAll            // "logout_all"
	EventRefreshReuse         = handlers.EventRefreshReuse         // "refresh_token_reuse"
	EventSessionRevoked       = handlers.EventSessionRevoked       // "session_revoked"
	EventPasswordResetRequest = handlers.EventPasswordResetRequest // "password_reset_requested"
	EventPasswordReset        = handlers.EventPasswordReset        // "password_reset"
	EventPasswordChanged      = handlers.EventPasswordChanged      // "password_changed"
	EventEmailChangeRequested = handlers.EventEmailChangeRequested // "email_change_requested"
	EventEmailChanged         = handlers.EventEmailChanged         // "email_changed"
	EventTwoFactorEnabled     = handlers.EventTwoFactorEnabled     // "two_factor_enabled"
	EventTwoFactorDisabled    = handlers.EventTwoFactorDisabled    // "two_factor_disabled"
	EventTwoFactorUsed        = handlers.EventTwoFactorUsed        // "two_factor_used"
	EventTwoFactorFailed      = handlers.EventTwoFactorFailed      // "two_factor_failed"
	EventBackupCodeUsed       = handlers.EventBackupCodeUsed       // "backup_code_used"
	EventBackupCodesRenewed   = handlers.EventBackupCodesRenewed   // "backup_codes_regenerated"
	EventThrottled            = handlers.EventThrottled            // "throttled"
	EventMailFailed           = handlers.EventMailFailed           // "mail_failed"
	EventAdminAction          = handlers.EventAdminAction          // "admin_action"
	EventAdminDenied          = handlers.EventAdminDenied          // "admin_access_denied"
	EventPasskeyAdded         = handlers.EventPasskeyAdded         // "passkey_added"
	EventPasskeyRemoved       = handlers.EventPasskeyRemoved       // "passkey_removed"
	EventPasskeyUsed          = handlers.EventPasskeyUsed          // "passkey_used"
	EventPasskeyCloneDetected = handlers.EventPasskeyCloneDetected // "passkey_clone_detected"
)

// Admin actions: the actions of the admin API (POST /users/{id}/<action>/)
// and of Auth.AdminAction, and the Reason of their EventAdminAction events.
const (
	// AdminDisable2FA turns two-factor authentication off and erases the secret and the backup codes, for a user who lost their device.
	AdminDisable2FA = handlers.AdminDisable2FA // "disable_2fa"
	// AdminRevokeSessions bumps the token version: every session and pending 2FA login of the user ends.
	AdminRevokeSessions = handlers.AdminRevokeSessions // "revoke_sessions"
	// AdminActivate makes the account active and its email verified.
	AdminActivate = handlers.AdminActivate // "activate"
	// AdminDeactivate makes the account inactive and ends its sessions.
	AdminDeactivate = handlers.AdminDeactivate // "deactivate"
	// AdminResendVerification mails a new verification link.
	AdminResendVerification = handlers.AdminResendVerification // "resend_verification"
)

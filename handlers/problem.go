package handlers

import (
	"fmt"
	"time"
)

// Stable error codes carried by every problem response in its "code" member.
// Clients branch on these, never on titles or details.
const (
	CodeValidationFailed        = "validation_failed"
	CodeInvalidJSON             = "invalid_json"
	CodeUnsupportedMediaType    = "unsupported_media_type"
	CodeRequestTooLarge         = "request_too_large"
	CodeMethodNotAllowed        = "method_not_allowed"
	CodeNotFound                = "not_found"
	CodeCSRFFailed              = "csrf_failed"
	CodeNotAuthenticated        = "not_authenticated"
	CodeInvalidCredentials      = "invalid_credentials"
	CodeAccountInactive         = "account_inactive"
	CodeInvalidToken            = "invalid_token"
	CodeTokenExpired            = "token_expired"
	CodeTokenReused             = "token_reused"
	CodeInvalidPassword         = "invalid_password"
	CodeEmailTaken              = "email_taken"
	CodeThrottled               = "throttled"
	CodeInvalidCode             = "invalid_code"
	CodeTwoFactorAlreadyEnabled = "two_factor_already_enabled"
	CodeTwoFactorNotEnabled     = "two_factor_not_enabled"
	CodeTwoFactorNotSetUp       = "two_factor_not_set_up"
	CodeReauthRequired          = "reauthentication_required"
	CodeSessionExpired          = "session_expired"
	CodeForbidden               = "forbidden"
	CodeConflict                = "conflict"
	CodeAlreadyVerified         = "already_verified"
	CodeNotImplemented          = "not_implemented"
	CodeServiceUnavailable      = "service_unavailable"
	CodeInternalError           = "internal_error"
	CodePasskeyInvalid          = "passkey_invalid"
	CodePasskeyRequired         = "passkey_required"
)

// Problem is an RFC 9457 problem detail: what every error response of the
// API carries, as application/problem+json unless the application renders
// it itself (authsys.Hooks.RenderProblem).
type Problem struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Title is the status text.
	Title string `json:"title"`
	// Detail is an English sentence for people; clients branch on Code.
	Detail string `json:"detail,omitempty"`
	// Errors maps a request field to what is wrong with it, for
	// CodeValidationFailed: one FieldError per problem, each with a
	// stable code.
	Errors map[string][]FieldError `json:"errors,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header (429 and
	// 503).
	RetryAfter time.Duration `json:"-"`
	// Err is the internal cause: it is logged, never sent to the client.
	Err error `json:"-"`
}

// Error implements error.
func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%s (%d %s): %v", p.Detail, p.Status, p.Code, p.Err)
	}
	return fmt.Sprintf("%s (%d %s)", p.Detail, p.Status, p.Code)
}

// Unwrap returns the internal cause.
func (p *Problem) Unwrap() error { return p.Err }

// FieldError is one problem with one request field, in Problem.Errors. An
// application's hooks (a password policy, the validation of its own
// signup fields) return it, or several joined with errors.Join, to refuse
// a field.
type FieldError struct {
	// Code is stable (e.g. "required", "invalid_email",
	// "password_too_short"); clients branch on it.
	Code string `json:"code"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
}

// Error implements error.
func (e *FieldError) Error() string { return e.Code + ": " + e.Message }

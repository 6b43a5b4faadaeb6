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
	CodeEmailNotVerified        = "email_not_verified"
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
	CodeInvalidAuthMode         = "invalid_auth_mode"
	CodeTokenModeDisabled       = "token_mode_disabled"
	CodeCORSRefused             = "cors_refused"
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
	// Detail is a sentence for people, in the request's language when the
	// problem is rendered (see authsys.Locales), English elsewhere;
	// clients branch on Code.
	Detail string `json:"detail,omitempty"`
	// DetailKey is the message catalog key of Detail (e.g.
	// "login.invalid_credentials"; authsys.DefaultMessages lists them),
	// for an application that translates with a catalog of its own (in
	// authsys.Hooks.RenderProblem, or a problem Auth.Authenticate
	// returned); empty for a problem the application made. It is not
	// sent.
	DetailKey string `json:"-"`
	// DetailArgs are the values of the placeholders of Detail's message
	// (e.g. "field" for "request.unknown_field"); nil for a message
	// without any. They are not sent.
	DetailArgs map[string]string `json:"-"`
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
	// Message says what is wrong, for people. The library's own field
	// errors are rendered in the request's language, from the catalog
	// key "field." + Code. A FieldError an application returns keeps its
	// Message, unless it is empty (or the library's English message for
	// Code): then the catalog's "field." + Code is sent, so an
	// application can translate its own codes in
	// authsys.Locales.Messages.
	// An empty Message for a code the catalog does not know gives a
	// generic one.
	Message string `json:"message"`
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

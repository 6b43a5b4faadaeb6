package server

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/password"
)

// The message catalog. Every sentence the API sends (problem details,
// field error messages, success messages) and the words the emails take
// from it (how long a link lives) are looked up by a stable key in the
// English catalog below, which applications translate (Locales.Messages;
// authsys.DefaultMessages hands them a copy). Call sites name keys, never
// sentences; TestCatalogKeys checks every key they name is here and every
// key here is named somewhere.
//
// A text may hold named placeholders, {name}, filled in when it is
// rendered: from the problem's DetailArgs, or from fieldArgs for the field
// error messages. A translation must use exactly the placeholders of its
// English text.

// Codes of field errors (handlers.FieldError.Code).
const (
	fieldRequired      = "required"
	fieldInvalidEmail  = "invalid_email"
	fieldSameEmail     = "same_email"
	fieldWrongPassword = "wrong_password"
	fieldCodeOrPass    = "code_or_password_required"
	fieldTooLong       = "too_long"
	fieldOutOfRange    = "out_of_range"
	fieldInvalidCursor = "invalid_cursor"
	// fieldPasswordBreached: the breach check (Passwords.Breached) found
	// the new password in breach data.
	fieldPasswordBreached = "password_breached"
	fieldInvalidText      = "invalid_text"
	fieldInvalidValue     = "invalid_value"
	fieldTokenModeOnly    = "token_mode_only"
	fieldInvalidName      = "invalid_name"
)

// fieldKeyPrefix prefixes the catalog key of a field error code's message:
// "field.required".
const fieldKeyPrefix = "field."

// fieldMessages are the English messages of the field error codes; the
// catalog holds each under fieldKeyPrefix + code.
var fieldMessages = map[string]string{
	fieldRequired:          "This field is required.",
	fieldInvalidEmail:      "Enter a valid email address.",
	fieldSameEmail:         "This is already your email address.",
	fieldWrongPassword:     "The password is incorrect.",
	fieldCodeOrPass:        "Give a current code or your password.",
	fieldTooLong:           "Enter at most {max} characters.",
	fieldOutOfRange:        "Enter a whole number from 1 to {max}.",
	fieldInvalidCursor:     "The cursor is invalid; use the next_cursor of a previous page.",
	fieldInvalidText:       "Enter text, without control characters.",
	fieldInvalidValue:      "Enter a valid value.",
	fieldTokenModeOnly:     "This field is read only in token mode (X-Auth-Mode: token); cookie clients send the token as a cookie.",
	fieldInvalidName:       "Enter a name of at most {max} printable characters.",
	password.CodeTooShort:  "This password is too short. It must contain at least {min} characters.",
	password.CodeTooLong:   "This password is too long. It must contain at most {max} characters.",
	password.CodeNumeric:   "This password is entirely numeric.",
	password.CodeLikeEmail: "This password is too similar to the email address.",
	password.CodeCommon:    "This password is too common.",
	fieldPasswordBreached:  "This password has appeared in a data breach. Choose another one.",
}

// fieldArgs are the values of the placeholders of the field error
// messages: the limits the rules apply.
var fieldArgs = map[string]map[string]string{
	fieldKeyPrefix + fieldTooLong:          {"max": "254"},
	fieldKeyPrefix + fieldOutOfRange:       {"max": strconv.Itoa(MaxAdminPageSize)},
	fieldKeyPrefix + password.CodeTooShort: {"min": strconv.Itoa(password.MinLength)},
	fieldKeyPrefix + password.CodeTooLong:  {"max": strconv.Itoa(password.MaxLength)},
	fieldKeyPrefix + fieldInvalidName:      {"max": strconv.Itoa(maxPasskeyName)},
}

// messages are the English problem details, success messages and email
// words, by key: "<area>.<what>".
var messages = map[string]string{
	// Problems of any request.
	"request.method_not_allowed":     "This method is not allowed here; see the Allow header.",
	"request.csrf_failed":            "Cross-origin request refused.",
	"request.not_found":              "No such endpoint.",
	"request.unsupported_media_type": "The body must be application/json.",
	"request.too_large":              "The body exceeds {max_kib} KiB.",
	"request.unreadable":             "The body could not be read.",
	"request.invalid_utf8":           "The body is not valid UTF-8.",
	"request.invalid_json":           "The body is not valid JSON for this endpoint.",
	"request.unknown_field":          "Unknown field {field}.",
	"request.trailing_data":          "The body must hold a single JSON object.",
	"request.invalid_fields":         "The request has invalid fields.",
	"request.field_refused":          "This value cannot be used.",
	"passkey.off":                    "Passkeys are not enabled on this server.",
	"passkey.invalid":                "The passkey's answer was not accepted; start again.",
	"passkey.clone":                  "The passkey's signature counter did not move forward, as happens when a passkey was copied; it was not accepted.",
	"passkey.login_refused":          "The passkey was not accepted.",
	"passkey.required":               "This account confirms with a passkey: POST /passkeys/reauthenticate/begin/, then /passkeys/reauthenticate/finish/ with its answer.",
	"passkey.none":                   "This account has no passkey.",
	"passkey.too_many":               "This account has as many passkeys as allowed; remove one first.",
	"passkey.taken":                  "This passkey is already registered.",
	"passkey.not_found":              "No such passkey.",
	"passkey.removed":                "The passkey has been removed.",
	"request.token_mode_disabled":    "Token mode (X-Auth-Mode: token) is not enabled on this server.",
	"request.invalid_auth_mode":      "X-Auth-Mode must be cookie or token.",
	"cors.origin_refused":            "This origin may not make cross-origin requests here.",
	"cors.method_refused":            "The method is not allowed in cross-origin requests; allowed: {allowed}.",
	"cors.header_refused":            "A requested header is not allowed in cross-origin requests; allowed: {allowed}.",
	"request.throttled":              "Too many requests; try again later.",
	"server.unavailable":             "The service is temporarily unavailable; try again shortly.",
	"server.internal_error":          "An internal error occurred.",

	// Authentication.
	"auth.not_authenticated": "Authentication credentials were not provided.",
	"auth.session_ended":     "The session has ended.",
	"auth.token_revoked":     "The token has been revoked.",
	"auth.token_invalid":     "The token is invalid.",
	"auth.token_expired":     "The token has expired.",
	"auth.token_reused":      "The token was already used; the session has been revoked.",
	"auth.account_inactive":  "The account is inactive.",
	"auth.reauth_required":   "This action needs you to confirm your identity: POST /reauthenticate/ with your password (and a code when two-factor authentication is on), then try again.",
	"reauth.confirmed":       "Confirmed.",

	// Signup and verification.
	"signup.check_email":        "Check your email to verify your account.",
	"verify.done":               "Your account is verified; you can log in.",
	"verify.choose_password":    "Your email address is verified. To finish, choose your password with the link we have just sent.",
	"verify.resend_sent":        "If an unverified account uses this address, a new verification email is on its way.",
	"link.invalid":              "The link is invalid or has already been used.",
	"link.expired":              "The link has expired; ask for a new one.",
	"login.invalid_credentials": "Invalid email or password.",
	"login.account_deactivated": "The account has been deactivated.",
	"login.email_not_verified":  "Your email address is not verified yet: we have sent you a new verification link.",

	// Sessions.
	"logout.done":         "Logged out.",
	"logout.all":          "Logged out of every session.",
	"refresh.no_token":    "No refresh token was provided.",
	"refresh.done":        "Token refreshed.",
	"sessions.not_found":  "No such session.",
	"sessions.revoked":    "The session has been revoked.",
	"two_factor.expired":  "The login session has expired; log in again.",
	"two_factor.busy":     "Another code for this login is being checked; try again.",
	"two_factor.bad_code": "The code is invalid.",

	// Passwords and email addresses.
	"password.reset_sent":        "If an account uses this address, a password reset email is on its way.",
	"password.reset_done":        "Your password has been reset; log in with the new one.",
	"password.incorrect":         "The password is incorrect.",
	"password.changed":           "Your password has been changed.",
	"password.changed_log_in":    "Your password has been changed; log in again.",
	"password.changed_meanwhile": "The password was changed by another request; try again.",
	"email.change_requested":     "Check the new address for a confirmation link.",
	"email.change_cancelled":     "No email change is pending.",
	"email.changed":              "Your email address has been changed; log in again.",
	"email.taken":                "This email address is already in use.",

	// Two-factor management.
	"two_factor.already_enabled": "Two-factor authentication is already enabled.",
	"two_factor.not_enabled":     "Two-factor authentication is not enabled.",
	"two_factor.not_set_up":      "No two-factor setup is pending; call setup first.",
	"two_factor.codes_changed":   "The backup codes were changed by another request; try again.",
	"two_factor.disabled":        "Two-factor authentication is disabled.",

	// The admin API.
	"admin.forbidden":          "You do not have permission to use the admin API.",
	"admin.no_such_user":       "No such user.",
	"admin.already_verified":   "The email address is already verified.",
	"admin.deactivated":        "The account is deactivated; activate it instead.",
	"admin.cannot_list":        "The user store cannot list users: it does not implement store.UserLister.",
	"admin.deactivate_self":    "You cannot deactivate your own account.",
	"admin.disable_own_2fa":    "Turn off your own two-factor authentication with POST /2fa/disable/.",
	"admin.remove_own_passkey": "Remove your own passkeys with DELETE /passkeys/<id>/, which keeps your session.",

	// How long an emailed link lives (mail.Data.ExpiresIn).
	"duration.minutes": "{n} minutes",
	"duration.hour":    "1 hour",
	"duration.hours":   "{n} hours",
	"duration.days":    "{n} days",
}

// english is the built-in catalog: messages and the field messages under
// their keys.
var english = func() map[string]string {
	m := maps.Clone(messages)
	for code, text := range fieldMessages {
		m[fieldKeyPrefix+code] = text
	}
	return m
}()

// DefaultMessages returns a copy of the English catalog.
func DefaultMessages() map[string]string { return maps.Clone(english) }

// format fills the placeholders of text: each {name} with a value in
// args; other braces stay as they are.
func format(text string, args map[string]string) string {
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			break
		}
		name := text[open+1 : open+end]
		v, ok := args[name]
		if !ok || !placeholderName(name) {
			b.WriteString(text[:open+1])
			text = text[open+1:]
			continue
		}
		b.WriteString(text[:open])
		b.WriteString(v)
		text = text[open+end+1:]
	}
	b.WriteString(text)
	return b.String()
}

// placeholderName reports whether s is a placeholder's name: a lowercase
// letter, then lowercase letters, digits and underscores.
func placeholderName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// placeholders returns the sorted, distinct placeholder names of text.
func placeholders(text string) []string {
	var out []string
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			break
		}
		if name := text[open+1 : open+end]; placeholderName(name) {
			out = append(out, name)
			text = text[open+end+1:]
		} else {
			text = text[open+1:]
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// englishText renders the English message of key with args: the Detail a
// problem is made with, and the message of a field error before the
// request's language is known.
func englishText(key string, args map[string]string) string {
	return format(english[key], args)
}

// fieldError returns the field error code with its English message.
func fieldError(code string) handlers.FieldError {
	key := fieldKeyPrefix + code
	return handlers.FieldError{Code: code, Message: englishText(key, fieldArgs[key])}
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/store"
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
	CodeSessionExpired          = "session_expired"
	CodeForbidden               = "forbidden"
	CodeConflict                = "conflict"
	CodeAlreadyVerified         = "already_verified"
	CodeNotImplemented          = "not_implemented"
	CodeServiceUnavailable      = "service_unavailable"
	CodeInternalError           = "internal_error"
)

// ProblemCodes lists every code a problem response may carry, for
// documentation and tests.
var ProblemCodes = []string{
	CodeValidationFailed, CodeInvalidJSON, CodeUnsupportedMediaType, CodeRequestTooLarge,
	CodeMethodNotAllowed, CodeNotFound, CodeCSRFFailed, CodeNotAuthenticated,
	CodeInvalidCredentials, CodeAccountInactive, CodeInvalidToken, CodeTokenExpired,
	CodeTokenReused, CodeInvalidPassword, CodeEmailTaken, CodeThrottled, CodeInvalidCode,
	CodeTwoFactorAlreadyEnabled, CodeTwoFactorNotEnabled,
	CodeTwoFactorNotSetUp, CodeSessionExpired, CodeForbidden, CodeConflict,
	CodeAlreadyVerified, CodeNotImplemented,
	CodeServiceUnavailable, CodeInternalError,
}

// Problem is an RFC 9457 problem detail. Handlers return it as an error;
// one writer renders it. Err, when set, is the internal cause: it is logged,
// never sent.
type Problem struct {
	Status     int                 `json:"status"`
	Code       string              `json:"code"`
	Title      string              `json:"title"`
	Detail     string              `json:"detail,omitempty"`
	Errors     map[string][]string `json:"errors,omitempty"`
	RetryAfter time.Duration       `json:"-"`
	Err        error               `json:"-"`
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

func problem(status int, code, detail string) *Problem {
	return &Problem{Status: status, Code: code, Title: http.StatusText(status), Detail: detail}
}

func fieldProblem(errs map[string][]string) *Problem {
	p := problem(http.StatusBadRequest, CodeValidationFailed, "The request has invalid fields.")
	p.Errors = errs
	return p
}

func unavailable(err error) *Problem {
	p := problem(http.StatusServiceUnavailable, CodeServiceUnavailable, "The service is temporarily unavailable; try again shortly.")
	p.RetryAfter = 5 * time.Second
	p.Err = err
	return p
}

// toProblem turns any handler error into the problem to render. Errors that
// are not problems become 503 when a dependency is unavailable or the
// request ran out of time, and 500 otherwise; neither leaks the cause.
func toProblem(err error) *Problem {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, password.ErrBusy),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Canceled: the client went away; nobody reads the answer, and
		// it is no server fault to log as one.
		return unavailable(err)
	default:
		q := problem(http.StatusInternalServerError, CodeInternalError, "An internal error occurred.")
		q.Err = err
		return q
	}
}

// writeProblem renders p as application/problem+json.
func (h *Handlers) writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Err != nil || p.Status >= 500 {
		level := slog.LevelWarn
		if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
			level = slog.LevelError
		}
		h.log.LogAttrs(r.Context(), level, "authsys: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", p.Status), slog.String("code", p.Code), slog.Any("error", p.Err))
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.RetryAfter.Seconds()))))
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if h.deps.RenderProblem != nil {
		h.deps.RenderProblem(w, r, p)
		return
	}
	body := struct {
		Type string `json:"type"`
		*Problem
	}{Type: "about:blank", Problem: p}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(body)
}

package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/store"
)

// ProblemCodes lists every code a problem response may carry, for
// documentation and tests.
var ProblemCodes = []string{
	handlers.CodeValidationFailed, handlers.CodeInvalidJSON, handlers.CodeUnsupportedMediaType, handlers.CodeRequestTooLarge,
	handlers.CodeMethodNotAllowed, handlers.CodeNotFound, handlers.CodeCSRFFailed, handlers.CodeNotAuthenticated,
	handlers.CodeInvalidCredentials, handlers.CodeAccountInactive, handlers.CodeEmailNotVerified, handlers.CodeInvalidToken, handlers.CodeTokenExpired,
	handlers.CodeTokenReused, handlers.CodeInvalidPassword, handlers.CodeEmailTaken, handlers.CodeThrottled, handlers.CodeInvalidCode,
	handlers.CodeTwoFactorAlreadyEnabled, handlers.CodeTwoFactorNotEnabled,
	handlers.CodeTwoFactorNotSetUp, handlers.CodeReauthRequired, handlers.CodeSessionExpired, handlers.CodeForbidden, handlers.CodeConflict,
	handlers.CodeAlreadyVerified, handlers.CodeNotImplemented,
	handlers.CodeInvalidAuthMode, handlers.CodeTokenModeDisabled, handlers.CodeCORSRefused,
	handlers.CodeServiceUnavailable, handlers.CodeInternalError,
	handlers.CodePasskeyInvalid, handlers.CodePasskeyRequired,
}

// problem returns the problem of status and code whose detail is the
// catalog's message key, with its placeholders' values given as name,
// value pairs. Its Detail is English; writeProblem renders it in the
// request's language.
func problem(status int, code, key string, args ...string) *Problem {
	p := &Problem{Status: status, Code: code, Title: http.StatusText(status), DetailKey: key}
	if len(args) > 0 {
		p.DetailArgs = make(map[string]string, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			p.DetailArgs[args[i]] = args[i+1]
		}
	}
	p.Detail = cmp.Or(englishText(key, p.DetailArgs), key) // a sentence not yet in the catalog says itself
	return p
}

func fieldProblem(errs map[string][]handlers.FieldError) *Problem {
	p := problem(http.StatusBadRequest, handlers.CodeValidationFailed, "request.invalid_fields")
	p.Errors = errs
	return p
}

func unavailable(err error) *Problem {
	p := problem(http.StatusServiceUnavailable, handlers.CodeServiceUnavailable, "server.unavailable")
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
		q := problem(http.StatusInternalServerError, handlers.CodeInternalError, "server.internal_error")
		q.Err = err
		return q
	}
}

// writeProblem renders p as application/problem+json, its detail and
// field error messages in the request's language.
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
	// p may be shared (a package-level problem): the rendered one is a
	// copy.
	lang := h.requestLang(r)
	p, translated := h.loc.problem(p, lang)
	if translated {
		w.Header().Set("Content-Language", h.loc.name(lang))
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if h.deps.Hooks.RenderProblem != nil {
		h.deps.Hooks.RenderProblem(w, r, p)
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

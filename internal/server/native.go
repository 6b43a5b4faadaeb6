package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
)

// Token mode serves native clients (Sessions.NativeClients), which keep
// their tokens themselves. A request to the API with "X-Auth-Mode: token"
// reads no cookie and sets none: its credentials are the Authorization
// header and the body, and the tokens it is given come back in the body.
// Not reading cookies is what keeps the mode from turning a browser's
// HttpOnly cookies into tokens a script can read.

// authModeHeader is the request header that picks the mode of a request
// to the API: "cookie" (the default) or "token".
const authModeHeader = "X-Auth-Mode"

var (
	errTokenModeDisabled = problem(http.StatusBadRequest, handlers.CodeTokenModeDisabled,
		"request.token_mode_disabled")
	errInvalidAuthMode = problem(http.StatusBadRequest, handlers.CodeInvalidAuthMode,
		"request.invalid_auth_mode")
)

type tokenModeKey struct{}

// withAuthMode returns r marked with the mode its X-Auth-Mode header
// asks for ("token" or "cookie", in lower case), or the problem refusing
// it: another value, or token mode when Sessions.NativeClients is off
// (never silently cookies).
func (h *Handlers) withAuthMode(r *http.Request) (*http.Request, error) {
	vs := r.Header.Values(authModeHeader)
	if len(vs) == 0 {
		return r, nil
	}
	if len(vs) > 1 {
		return r, errInvalidAuthMode
	}
	switch strings.TrimSpace(vs[0]) {
	case "cookie":
		return r, nil
	case "token":
		if !h.deps.Sessions.NativeClients {
			return r, errTokenModeDisabled
		}
		return r.WithContext(context.WithValue(r.Context(), tokenModeKey{}, true)), nil
	}
	return r, errInvalidAuthMode
}

// tokenMode reports whether r runs in token mode. Requests outside the
// API (Middleware) never do.
func tokenMode(r *http.Request) bool {
	on, _ := r.Context().Value(tokenModeKey{}).(bool)
	return on
}

// tokensJSON is the "tokens" member of an answer in token mode: the
// session's tokens, named as in an OAuth 2.0 token response (RFC 6749,
// section 5.1), with lifetimes in seconds.
type tokensJSON struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	RefreshExpiresIn int64  `json:"refresh_expires_in,omitempty"`
	// TrustedDeviceToken is set by a 2FA login with remember_device.
	TrustedDeviceToken     string `json:"trusted_device_token,omitempty"`
	TrustedDeviceExpiresIn int64  `json:"trusted_device_expires_in,omitempty"`
}

// seconds is d in whole seconds, at least 1 (as the cookies' Max-Age).
func seconds(d time.Duration) int64 { return max(int64(d/time.Second), 1) }

// setTokens hands the tokens of is (the refresh token only when is has
// one) to r's client: as cookies, or, in token mode, as the tokens member
// it returns for the answer's body (nil in cookie mode, so that a cookie
// client never sees a token in a body).
func (h *Handlers) setTokens(w http.ResponseWriter, r *http.Request, is session.Issued) *tokensJSON {
	if tokenMode(r) {
		t := &tokensJSON{AccessToken: is.Access, TokenType: "Bearer", ExpiresIn: seconds(is.AccessTTL)}
		if is.Refresh != "" {
			t.RefreshToken, t.RefreshExpiresIn = is.Refresh, seconds(is.RefreshExpires.Sub(h.now()))
		}
		return t
	}
	c := h.deps.Cookies
	h.setCookie(w, c.AccessName, is.Access, "/", is.AccessTTL)
	if is.Refresh != "" {
		h.setCookie(w, c.RefreshName, is.Refresh, c.RefreshPath, is.RefreshExpires.Sub(h.now()))
	}
	return nil
}

// clearCookies deletes the token cookies; in token mode there are none.
func (h *Handlers) clearCookies(w http.ResponseWriter, r *http.Request) {
	if tokenMode(r) {
		return
	}
	c := h.deps.Cookies
	h.setCookie(w, c.AccessName, "", "/", -1)
	h.setCookie(w, c.RefreshName, "", c.RefreshPath, -1)
}

// refreshToken returns the refresh token r carries: the refresh cookie, or
// in token mode the body's (given).
func (h *Handlers) refreshToken(r *http.Request, body string) string {
	if tokenMode(r) {
		return body
	}
	return cookie(r, h.deps.Cookies.RefreshName)
}

// tokenModeOnly adds a field error for a body member that only token mode
// reads (a token the cookies carry otherwise), so that a client that
// forgot X-Auth-Mode learns it instead of being answered as if the member
// were absent.
func tokenModeOnly(r *http.Request, f fields, field, value string) {
	if value != "" && !tokenMode(r) {
		f.add(field, fieldTokenModeOnly)
	}
}

package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// setCookie sets a token cookie living maxAge; a negative maxAge deletes
// it (Max-Age=0).
func (h *Handlers) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	c := h.deps.Cookies
	secs := int(maxAge / time.Second)
	switch {
	case maxAge < 0:
		secs = -1 // net/http writes Max-Age=0; 0 would mean a session cookie
	case secs == 0:
		secs = 1
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, Domain: c.Domain,
		MaxAge: secs, Secure: !c.Insecure, HttpOnly: true, SameSite: c.SameSite,
	})
}

// startSession opens a new session for u, recorded with r's client, whose
// credentials were shown at authTime (zero: now, a login), and hands its
// tokens over (see setTokens): the tokens member of the answer in token
// mode, nil with cookies.
func (h *Handlers) startSession(w http.ResponseWriter, r *http.Request, u store.User, authTime time.Time) (*tokensJSON, error) {
	is, err := h.sess.Start(r.Context(), u, h.client(r), authTime)
	if err != nil {
		return nil, err
	}
	return h.setTokens(w, r, is), nil
}

// client is what the session records of r's client.
func (h *Handlers) client(r *http.Request) session.Client {
	return session.Client{IP: h.clientIP(r), UserAgent: r.UserAgent()}
}

// endSessions revokes the session records of userID but except, after a
// change that bumped the token version (which has already ended their
// tokens): the records follow, so the session list shows them ended. A
// failure is logged, not returned: the token version is what refuses the
// tokens.
func (h *Handlers) endSessions(r *http.Request, userID, except, reason string) {
	if _, err := h.sess.RevokeAll(r.Context(), userID, except, reason); err != nil {
		h.log.WarnContext(r.Context(), "authsys: revoking session records failed", "user_id", userID, "error", err)
	}
}

// restartSession follows a change that bumped u's token version for the
// client of r, which made it: every session of u has ended (the records
// follow), and the client goes on in a new one, whose tokens it returns
// as startSession does.
func (h *Handlers) restartSession(w http.ResponseWriter, r *http.Request, u store.User, reason string) (*tokensJSON, error) {
	h.endSessions(r, u.ID, "", reason)
	// The new session is as fresh as the one it replaces: a password or
	// 2FA change shows no second factor.
	return h.startSession(w, r, u, claimsFromContext(r.Context()).AuthTime)
}

var errNoCredentials = errors.New("no credentials")

// accessToken returns the access token of r. With Sessions.NativeClients
// an "Authorization: Bearer" header that holds a token wins over the
// access cookie: credentials the client names explicitly are the ones it
// means (a native client's web view may hold a stale cookie), and a bad
// Bearer token is refused rather than replaced by the cookie. Otherwise
// the access cookie, which token mode never reads.
func (h *Handlers) accessToken(r *http.Request) (string, error) {
	if h.deps.Sessions.NativeClients {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			if t := strings.TrimSpace(a[7:]); t != "" {
				return t, nil
			}
		}
	}
	if tokenMode(r) {
		return "", errNoCredentials
	}
	if c, err := r.Cookie(h.deps.Cookies.AccessName); err == nil && c.Value != "" {
		return c.Value, nil
	}
	return "", errNoCredentials
}

// Authenticate validates the request's access token and loads its user
// (see session.Manager.Authenticate). Errors are *Problem (401) or a store
// error (503).
func (h *Handlers) Authenticate(r *http.Request) (store.User, tokens.Claims, error) {
	h.ensureSubscribed()
	raw, err := h.accessToken(r)
	if err != nil {
		return store.User{}, tokens.Claims{}, problem(http.StatusUnauthorized, handlers.CodeNotAuthenticated, "auth.not_authenticated")
	}
	u, claims, err := h.sess.Authenticate(r.Context(), raw)
	return u, claims, sessionProblem(err)
}

// sessionProblem maps an error of the session core to its problem; other
// errors (the stores') are returned as they are.
func sessionProblem(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, session.ErrEnded):
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.session_ended")
	case errors.Is(err, session.ErrRevoked):
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.token_revoked")
	case errors.Is(err, session.ErrInvalid):
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.token_invalid")
	case errors.Is(err, session.ErrInactive):
		return problem(http.StatusUnauthorized, handlers.CodeAccountInactive, "auth.account_inactive")
	case errors.Is(err, session.ErrReused):
		return problem(http.StatusUnauthorized, handlers.CodeTokenReused, "auth.token_reused")
	case errors.Is(err, session.ErrPendingGone):
		return errSessionExpired
	case errors.Is(err, session.ErrPendingBusy):
		return errSessionBusy
	case errors.Is(err, tokens.ErrInvalid), errors.Is(err, tokens.ErrExpired):
		return tokenProblem(err)
	}
	return err
}

func tokenProblem(err error) *Problem {
	if errors.Is(err, tokens.ErrExpired) {
		return problem(http.StatusUnauthorized, handlers.CodeTokenExpired, "auth.token_expired")
	}
	return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.token_invalid")
}

type ctxKey struct{}

type authInfo struct {
	user   store.User
	claims tokens.Claims
	// private names the profile fields the public view leaves out.
	private map[string]bool
}

// UserFromContext returns the public view of the user that Middleware (or
// an authenticated endpoint) stored in ctx.
func UserFromContext(ctx context.Context) (handlers.Account, bool) {
	ai, ok := ctx.Value(ctxKey{}).(*authInfo)
	if !ok {
		return handlers.Account{}, false
	}
	return publicView(ai.user, ai.private), true
}

func claimsFromContext(ctx context.Context) tokens.Claims {
	ai, _ := ctx.Value(ctxKey{}).(*authInfo)
	if ai == nil {
		return tokens.Claims{}
	}
	return ai.claims
}

// Middleware lets through only requests with a valid access token, with the
// user in the request context. Failures are 401 problem+json; an unavailable
// store is 503 and keeps the cookies (an outage is not a logout). With
// optional, every request passes, with the user in its context only when
// it is authenticated. Either way an unsafe cross-origin request from an
// origin not trusted is refused first (403 csrf_failed), as the API
// refuses it: the access cookie is ambient, and SameSite does not tell
// apart the origins of one site.
func (h *Handlers) Middleware(next http.Handler, optional bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.refuseCrossOrigin(w, r) {
			return
		}
		// A request the cache answers needs no store and no deadline.
		h.ensureSubscribed()
		if raw, err := h.accessToken(r); err == nil {
			if u, claims, ok := h.sess.AuthenticateCached(raw); ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authInfo{u, claims, h.private})))
				return
			}
		}
		ctx := r.Context()
		if h.deps.HTTP.RequestTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, h.deps.HTTP.RequestTimeout)
			defer cancel()
		}
		u, claims, err := h.Authenticate(r.WithContext(ctx))
		switch {
		case err == nil:
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authInfo{u, claims, h.private}))
		case !optional:
			h.securityHeaders(w)
			h.writeProblem(w, r, toProblem(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errReauthRequired = problem(http.StatusForbidden, handlers.CodeReauthRequired,
	"auth.reauth_required")

// fresh wraps a sensitive endpoint: it needs a valid access token whose
// session showed its credentials within Sessions.ReauthWindow (a login or
// a re-authentication), and answers 403 reauthentication_required
// otherwise.
func (h *Handlers) fresh(fn func(w http.ResponseWriter, r *http.Request, u store.User) error) handlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, u store.User) error {
		if !h.sess.Fresh(claimsFromContext(r.Context()), h.deps.Sessions.ReauthWindow) {
			return errReauthRequired
		}
		return fn(w, r, u)
	})
}

// authed wraps an endpoint that needs a valid access token.
func (h *Handlers) authed(fn func(w http.ResponseWriter, r *http.Request, u store.User) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, claims, err := h.Authenticate(r)
		if err != nil {
			return err
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authInfo{u, claims, h.private}))
		setReqAccount(r, u)
		return fn(w, r, u)
	}
}

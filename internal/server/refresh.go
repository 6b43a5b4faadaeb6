package server

import (
	"errors"
	"net/http"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// limitRefresh is the scope of the refresh budgets, per client IP and per
// session.
const limitRefresh = "refresh"

// cookie returns the value of r's cookie name, or "".
func cookie(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// logout ends the session that the request's access token (cookie or,
// when allowed, Bearer header) or refresh cookie names, whichever are
// valid, and clears the cookies. It answers 200 whatever the tokens, so it
// works after the access cookie expired and tells nothing of a token's
// validity.
func (h *Handlers) logout(w http.ResponseWriter, r *http.Request) error {
	access, _ := h.accessToken(r)
	userID, err := h.sess.End(r.Context(), access, cookie(r, h.deps.Cookies.RefreshName))
	if err != nil {
		return err
	}
	h.clearCookies(w)
	if userID != "" {
		h.emit(r, Event{Kind: handlers.EventLogout, UserID: userID})
	}
	return h.writeMessage(w, r, "logout.done")
}

func (h *Handlers) logoutAll(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := h.sess.EndAll(r.Context(), u.ID); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: handlers.EventLogoutAll, UserID: u.ID})
	return h.writeMessage(w, r, "logout.all")
}

// refresh rotates the refresh token (see session.Manager.Refresh). A token
// the core refuses clears the cookies; a store error keeps them (an outage
// is not a logout).
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request) error {
	raw := cookie(r, h.deps.Cookies.RefreshName)
	if raw == "" {
		return problem(http.StatusUnauthorized, handlers.CodeNotAuthenticated, "refresh.no_token")
	}
	// A genuine token spends its session's budget; only a token that is
	// not (forged, expired, garbage) spends the client IP's, so that one
	// client cannot use up the budget of everyone behind its address.
	if claims, err := h.deps.Tokens.Parse(raw, tokens.TypeRefresh); err == nil {
		if err := h.limitKey(r, limitRefresh, h.deps.Limits.Refresh, "sess:"+claims.SessionID, claims.Subject); err != nil {
			return err
		}
	} else if err := h.limit(r, limitRefresh, h.deps.Limits.Refresh, ""); err != nil {
		return err
	}
	is, u, err := h.sess.Refresh(r.Context(), raw, h.client(r))
	if err != nil {
		p := sessionProblem(err)
		var refused *Problem
		if errors.As(p, &refused) {
			h.clearCookies(w)
		}
		if errors.Is(err, session.ErrReused) {
			h.emit(r, Event{Kind: handlers.EventRefreshReuse, UserID: u.ID, Email: u.Email})
		}
		return p
	}
	h.setTokens(w, is)
	return h.writeMessage(w, r, "refresh.done")
}

package server

import (
	"errors"
	"net/http"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"
)

// logout ends the session of the access token and, when the refresh cookie
// is one of the same user's, that token and its session too.
func (h *Handlers) logout(w http.ResponseWriter, r *http.Request, u store.User) error {
	refresh := ""
	if c, err := r.Cookie(h.deps.Cookies.RefreshName); err == nil {
		refresh = c.Value
	}
	if err := h.sess.End(r.Context(), claimsFromContext(r.Context()), refresh); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: handlers.EventLogout, UserID: u.ID})
	return writeMessage(w, "Logged out.")
}

func (h *Handlers) logoutAll(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := h.sess.EndAll(r.Context(), u.ID); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: handlers.EventLogoutAll, UserID: u.ID})
	return writeMessage(w, "Logged out of every session.")
}

// refresh rotates the refresh token (see session.Manager.Refresh). A token
// the core refuses clears the cookies; a store error keeps them (an outage
// is not a logout).
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(h.deps.Cookies.RefreshName)
	if err != nil || c.Value == "" {
		return problem(http.StatusUnauthorized, handlers.CodeNotAuthenticated, "No refresh token was provided.")
	}
	is, u, err := h.sess.Refresh(r.Context(), c.Value)
	if err != nil {
		p := sessionProblem(err)
		var refused *Problem
		if errors.As(p, &refused) {
			h.clearCookies(w)
		}
		if errors.Is(err, session.ErrReused) {
			h.emit(r, Event{Kind: handlers.EventRefreshReuse, UserID: u.ID})
		}
		return p
	}
	h.setTokens(w, is)
	return writeMessage(w, "Token refreshed.")
}

package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"
)

// sessionJSON is a session as its owner (or an admin) sees it: never a
// token or token ID.
type sessionJSON struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	Label      string    `json:"label"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

type sessionList struct {
	Sessions []sessionJSON `json:"sessions"`
	// TrustedDevices are the browsers that skip the second factor.
	TrustedDevices []sessionJSON `json:"trusted_devices"`
}

// sessionsJSON lists ss, marking current; IP and user agent are the last
// seen, and the expiry the earlier of the idle and the absolute end.
func sessionsJSON(ss, devices []store.Session, current string) sessionList {
	out := sessionList{Sessions: records(ss, current), TrustedDevices: records(devices, "")}
	return out
}

func records(ss []store.Session, current string) []sessionJSON {
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		exp := s.ExpiresAt
		if s.IdleExpiresAt.Before(exp) {
			exp = s.IdleExpiresAt
		}
		out = append(out, sessionJSON{
			ID: s.ID, Current: s.ID == current, Label: s.Label, IP: s.LastIP, UserAgent: s.LastUserAgent,
			CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(), ExpiresAt: exp.UTC(),
		})
	}
	return out
}

// listSessions serves GET /sessions/: the user's live sessions, newest
// first.
func (h *Handlers) listSessions(w http.ResponseWriter, r *http.Request, u store.User) error {
	ss, err := h.sess.List(r.Context(), u.ID)
	if err != nil {
		return err
	}
	devices, err := h.sess.Devices(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sessionsJSON(ss, devices, claimsFromContext(r.Context()).SessionID))
}

var errNoSuchSession = problem(http.StatusNotFound, handlers.CodeNotFound, "sessions.not_found")

// revokeSession serves DELETE /sessions/{id}/: an unknown id and another
// user's answer alike. Revoking the current session is a logout: its
// cookies are cleared.
func (h *Handlers) revokeSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	id := r.PathValue("id")
	// Ending another session is revoking others, one at a time: it needs
	// a fresh session as revoke-others does. Ending one's own is a logout.
	if id != claimsFromContext(r.Context()).SessionID && !h.sess.Fresh(claimsFromContext(r.Context()), h.deps.Sessions.ReauthWindow) {
		return errReauthRequired
	}
	if err := h.sess.Revoke(r.Context(), u.ID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchSession
		}
		return err
	}
	if id == claimsFromContext(r.Context()).SessionID {
		h.clearCookies(w, r)
	}
	h.emit(r, Event{Kind: handlers.EventSessionRevoked, UserID: u.ID, Reason: "one"})
	return h.writeMessage(w, r, "sessions.revoked")
}

type revokedCount struct {
	Revoked int `json:"revoked"`
}

// revokeOtherSessions serves POST /sessions/revoke-others/: every session
// of the user but the current one ends.
func (h *Handlers) revokeOtherSessions(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	n, err := h.sess.RevokeAll(r.Context(), u.ID, claimsFromContext(r.Context()).SessionID, session.ReasonRevoked)
	if err != nil {
		return err
	}
	if n > 0 {
		h.emit(r, Event{Kind: handlers.EventSessionRevoked, UserID: u.ID, Reason: "others"})
	}
	return writeJSON(w, http.StatusOK, revokedCount{n})
}

// adminListSessions serves the admin API's GET /users/{id}/sessions/.
func (h *Handlers) adminListSessions(w http.ResponseWriter, r *http.Request, _ store.User) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	if _, err := h.deps.Users.UserByID(r.Context(), id); err != nil {
		return adminStoreErr(err)
	}
	ss, err := h.sess.List(r.Context(), id)
	if err != nil {
		return err
	}
	devices, err := h.sess.Devices(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sessionsJSON(ss, devices, ""))
}

// Sessions lists the live sessions of userID.
func (h *Handlers) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	return h.sess.List(ctx, userID)
}

// RevokeSession revokes the session sid of userID for actor (an admin's ID,
// or an operator's name) and emits the event; r, when not nil, is the
// request whose client the event names. Unknown, ended or another user's
// session: store.ErrNotFound.
func (h *Handlers) RevokeSession(ctx context.Context, r *http.Request, actor, userID, sid string) error {
	if err := h.sess.Revoke(ctx, userID, sid); err != nil {
		return err
	}
	if r == nil {
		var err error
		if r, err = http.NewRequestWithContext(ctx, http.MethodPost, "/", nil); err != nil {
			return err
		}
	}
	h.emit(r, Event{Kind: handlers.EventSessionRevoked, UserID: userID, ActorID: actor, Reason: "admin"})
	return nil
}

// adminRevokeSession serves the admin API's DELETE
// /users/{id}/sessions/{sid}/.
func (h *Handlers) adminRevokeSession(w http.ResponseWriter, r *http.Request, admin store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	id, err := targetID(r)
	if err != nil {
		return err
	}
	if err := h.RevokeSession(r.Context(), r, admin.ID, id, r.PathValue("sid")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchSession
		}
		return err
	}
	return h.writeMessage(w, r, "sessions.revoked")
}

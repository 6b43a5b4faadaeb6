package server

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/authsys-go/authsys/handlers"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

func (h *Handlers) key(parts ...string) string {
	return h.deps.Sessions.KeyPrefix + strings.Join(parts, ":")
}

// remaining is the time until t, at least one millisecond.
func (h *Handlers) remaining(t time.Time) time.Duration {
	if d := t.Sub(h.now()); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}

// revokeFamily kills every refresh token of session sid.
func (h *Handlers) revokeFamily(ctx context.Context, sid string) error {
	return h.deps.Pending.PutPending(ctx, h.key("rt", "family", sid), []byte{1}, h.deps.Tokens.RefreshTTL()+time.Minute)
}

func (h *Handlers) logout(w http.ResponseWriter, r *http.Request, u store.User) error {
	ctx := r.Context()
	claims := claimsFromContext(ctx)
	if c, err := r.Cookie(h.deps.Cookies.RefreshName); err == nil {
		if rc, err := h.deps.Tokens.Parse(c.Value, tokens.TypeRefresh); err == nil && rc.Subject == u.ID {
			if err := h.deps.Pending.PutPending(ctx, h.key("rt", "deny", rc.ID), []byte{1}, h.remaining(rc.ExpiresAt)); err != nil {
				return err
			}
			if rc.SessionID != claims.SessionID {
				if err := h.revokeFamily(ctx, rc.SessionID); err != nil {
					return err
				}
			}
		}
	}
	if err := h.revokeFamily(ctx, claims.SessionID); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: handlers.EventLogout, UserID: u.ID})
	return writeMessage(w, "Logged out.")
}

func (h *Handlers) logoutAll(w http.ResponseWriter, r *http.Request, u store.User) error {
	if _, err := h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		x.TokenVersion++
		return nil
	}); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: handlers.EventLogoutAll, UserID: u.ID})
	return writeMessage(w, "Logged out of every session.")
}

// rotation is what the PendingStore keeps for a rotated refresh token: when
// it was rotated and its successor's ID, so that every caller, on any
// instance and whatever its signing key, issues the same successor.
type rotation struct {
	At   int64  `json:"at"`   // Unix nanoseconds
	Next string `json:"next"` // the successor's jti
}

// refresh rotates the refresh token. The first use of a token records its
// rotation time and a random successor ID with an atomic put-if-absent;
// the successor's ID and times come from that record, so concurrent
// callers within RefreshReuseGrace all get the same successor. A use after the grace is a
// replay: the whole family (sid) is revoked.
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := r.Cookie(h.deps.Cookies.RefreshName)
	if err != nil || c.Value == "" {
		return problem(http.StatusUnauthorized, handlers.CodeNotAuthenticated, "No refresh token was provided.")
	}
	claims, err := h.deps.Tokens.Parse(c.Value, tokens.TypeRefresh)
	if err != nil {
		h.clearCookies(w)
		return tokenProblem(err)
	}
	for _, k := range []string{h.key("rt", "deny", claims.ID), h.key("rt", "family", claims.SessionID)} {
		_, err := h.deps.Pending.GetPending(ctx, k)
		if err == nil {
			h.clearCookies(w)
			return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "The token has been revoked.")
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	u, err := h.deps.Users.UserByID(ctx, claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "The token is invalid.")
	}
	if err != nil {
		return err
	}
	if !u.IsActive {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, handlers.CodeAccountInactive, "The account is inactive.")
	}
	if u.TokenVersion != claims.TokenVersion {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "The token has been revoked.")
	}

	now := h.now()
	usedKey := h.key("rt", "used", claims.ID)
	mine := rotation{At: now.UnixNano(), Next: tokens.NewID()}
	rec, _ := json.Marshal(mine)
	first, err := h.deps.Pending.AddPendingIfAbsent(ctx, usedKey, rec, h.remaining(claims.ExpiresAt))
	if err != nil {
		return err
	}
	at, next := now, mine.Next
	if !first {
		raw, err := h.deps.Pending.GetPending(ctx, usedKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var prev rotation
		if err != nil || json.Unmarshal(raw, &prev) != nil || prev.Next == "" {
			prev = rotation{} // unreadable: treated as a use long ago
		}
		at, next = time.Unix(0, prev.At), prev.Next
		// Without a grace every second use is a replay, even within the
		// same clock tick.
		if grace := h.deps.Sessions.RefreshReuseGrace; grace <= 0 || now.Sub(at) > grace {
			if err := h.revokeFamily(ctx, claims.SessionID); err != nil {
				return err
			}
			h.clearCookies(w)
			h.emit(r, Event{Kind: handlers.EventRefreshReuse, UserID: u.ID})
			return problem(http.StatusUnauthorized, handlers.CodeTokenReused, "The token was already used; the session has been revoked.")
		}
	}
	succ := tokens.Claims{
		Type: tokens.TypeRefresh, Subject: claims.Subject, TokenVersion: claims.TokenVersion,
		SessionID: claims.SessionID, ID: next,
		IssuedAt: at.Truncate(time.Second), ExpiresAt: at.Truncate(time.Second).Add(h.deps.Tokens.RefreshTTL()),
	}
	if err := h.setTokens(w, u.ID, u.TokenVersion, claims.SessionID, succ); err != nil {
		return err
	}
	return writeMessage(w, "Token refreshed.")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

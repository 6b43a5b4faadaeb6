package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// Errors of the session core. Token errors of package tokens (such as
// tokens.ErrExpired) and store errors are returned as they are.
var (
	// ErrInvalid: the token names a user that does not exist.
	ErrInvalid = errors.New("session: invalid token")
	// ErrRevoked: the token was logged out, its session ended, or its
	// token version is behind the user's.
	ErrRevoked = errors.New("session: token revoked")
	// ErrEnded: the access token's session has ended (logout, or a replayed
	// refresh token).
	ErrEnded = errors.New("session: session ended")
	// ErrReused: a refresh token was used again after the reuse grace; its
	// session has been ended.
	ErrReused = errors.New("session: refresh token reused")
	// ErrInactive: the account is not active.
	ErrInactive = errors.New("session: account inactive")
)

// Config configures a Manager; every field is required unless its comment
// says otherwise.
type Config struct {
	Users   store.UserStore
	Pending store.PendingStore
	Tokens  *tokens.Manager
	Keys    Keys
	Now     func() time.Time
	// ReuseGrace is how long a rotated refresh token keeps giving the same
	// successor; zero means none.
	ReuseGrace time.Duration
	// CheckEnded makes Authenticate refuse access tokens of ended sessions
	// (one PendingStore read).
	CheckEnded bool
	// PendingLoginTTL is the life of a pending login.
	PendingLoginTTL time.Duration
	// WorkTimeout bounds work that may outlive its request (releasing the
	// claim on a pending login).
	WorkTimeout time.Duration
}

// Manager is the session core. It is safe for concurrent use.
type Manager struct {
	c Config
}

// New returns a Manager for c.
func New(c Config) *Manager { return &Manager{c: c} }

// Issued is what a login or a refresh hands the client.
type Issued struct {
	// Access and Refresh are the signed tokens.
	Access, Refresh string
	// AccessTTL is the access token's life; RefreshExpires the refresh
	// token's expiry.
	AccessTTL      time.Duration
	RefreshExpires time.Time
}

// Start opens a new session for u, whose login is complete.
func (m *Manager) Start(u store.User) (Issued, error) {
	sid := tokens.NewID()
	return m.issue(u, m.c.Tokens.NewClaims(tokens.TypeRefresh, u.ID, u.TokenVersion, sid))
}

// issue signs a fresh access token of refresh's session and refresh.
func (m *Manager) issue(u store.User, refresh tokens.Claims) (Issued, error) {
	tm := m.c.Tokens
	at, err := tm.Sign(tm.NewClaims(tokens.TypeAccess, u.ID, u.TokenVersion, refresh.SessionID))
	if err != nil {
		return Issued{}, err
	}
	rt, err := tm.Sign(refresh)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Access: at, Refresh: rt, AccessTTL: tm.AccessTTL(), RefreshExpires: refresh.ExpiresAt}, nil
}

// Authenticate checks the access token raw: valid and unexpired, its
// session not ended (with CheckEnded, one PendingStore read first, so an
// ended session costs no user lookup), its user existing, at the token's
// version and active. It returns the user and the token's claims, or
// ErrEnded, ErrInvalid, ErrRevoked, ErrInactive, a tokens error or a store
// error.
func (m *Manager) Authenticate(ctx context.Context, raw string) (store.User, tokens.Claims, error) {
	claims, err := m.c.Tokens.Parse(raw, tokens.TypeAccess)
	if err != nil {
		return store.User{}, claims, err
	}
	if m.c.CheckEnded {
		ended, err := m.present(ctx, m.c.Keys.Ended(claims.SessionID))
		switch {
		case err != nil:
			return store.User{}, claims, err
		case ended:
			return store.User{}, claims, ErrEnded
		}
	}
	u, err := m.c.Users.UserByID(ctx, claims.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, claims, ErrInvalid
	case err != nil:
		return store.User{}, claims, err
	case u.TokenVersion != claims.TokenVersion:
		return store.User{}, claims, ErrRevoked
	case !u.IsActive:
		return store.User{}, claims, ErrInactive
	}
	return u, claims, nil
}

// present reports whether key holds a value.
func (m *Manager) present(ctx context.Context, key string) (bool, error) {
	_, err := m.c.Pending.GetPending(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// rotation is what the PendingStore keeps for a rotated refresh token: when
// it was rotated and its successor's ID, so that every caller, on any
// instance and whatever its signing key, issues the same successor.
type rotation struct {
	At   int64  `json:"at"`   // Unix nanoseconds
	Next string `json:"next"` // the successor's jti
}

// Refresh rotates the refresh token raw. The first use of a token records
// its rotation time and a random successor ID with an atomic
// put-if-absent; the successor's ID and times come from that record, so
// concurrent callers within the reuse grace all get the same successor. A
// use after the grace is a replay: the session is ended and ErrReused
// returned with the user. Other errors: ErrRevoked (logged out, ended, or
// behind the user's token version), ErrInvalid, ErrInactive, a tokens
// error, a store error.
func (m *Manager) Refresh(ctx context.Context, raw string) (Issued, store.User, error) {
	claims, err := m.c.Tokens.Parse(raw, tokens.TypeRefresh)
	if err != nil {
		return Issued{}, store.User{}, err
	}
	for _, k := range []string{m.c.Keys.Denied(claims.ID), m.c.Keys.Ended(claims.SessionID)} {
		gone, err := m.present(ctx, k)
		switch {
		case err != nil:
			return Issued{}, store.User{}, err
		case gone:
			return Issued{}, store.User{}, ErrRevoked
		}
	}
	u, err := m.c.Users.UserByID(ctx, claims.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Issued{}, store.User{}, ErrInvalid
	case err != nil:
		return Issued{}, store.User{}, err
	case !u.IsActive:
		return Issued{}, store.User{}, ErrInactive
	case u.TokenVersion != claims.TokenVersion:
		return Issued{}, store.User{}, ErrRevoked
	}

	now := m.c.Now()
	usedKey := m.c.Keys.Rotated(claims.ID)
	mine := rotation{At: now.UnixNano(), Next: tokens.NewID()}
	rec, _ := json.Marshal(mine)
	first, err := m.c.Pending.AddPendingIfAbsent(ctx, usedKey, rec, m.remaining(claims.ExpiresAt))
	if err != nil {
		return Issued{}, store.User{}, err
	}
	at, next := now, mine.Next
	if !first {
		raw, err := m.c.Pending.GetPending(ctx, usedKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Issued{}, store.User{}, err
		}
		var prev rotation
		if err != nil || json.Unmarshal(raw, &prev) != nil || prev.Next == "" {
			prev = rotation{} // unreadable: treated as a use long ago
		}
		at, next = time.Unix(0, prev.At), prev.Next
		// Without a grace every second use is a replay, even within the
		// same clock tick.
		if grace := m.c.ReuseGrace; grace <= 0 || now.Sub(at) > grace {
			if err := m.end(ctx, claims.SessionID); err != nil {
				return Issued{}, store.User{}, err
			}
			return Issued{}, u, ErrReused
		}
	}
	iat := at.Truncate(time.Second)
	succ := tokens.Claims{
		Type: tokens.TypeRefresh, Subject: claims.Subject, TokenVersion: claims.TokenVersion,
		SessionID: claims.SessionID, ID: next, IssuedAt: iat, ExpiresAt: iat.Add(m.c.Tokens.RefreshTTL()),
	}
	is, err := m.issue(u, succ)
	return is, u, err
}

// End ends the session of the access token claims (a logout) and, when
// refresh is a valid refresh token of the same user, denies it and ends its
// session too (the client's refresh cookie may belong to another login).
func (m *Manager) End(ctx context.Context, claims tokens.Claims, refresh string) error {
	if refresh != "" {
		if rc, err := m.c.Tokens.Parse(refresh, tokens.TypeRefresh); err == nil && rc.Subject == claims.Subject {
			if err := m.c.Pending.PutPending(ctx, m.c.Keys.Denied(rc.ID), []byte{1}, m.remaining(rc.ExpiresAt)); err != nil {
				return err
			}
			if rc.SessionID != claims.SessionID {
				if err := m.end(ctx, rc.SessionID); err != nil {
					return err
				}
			}
		}
	}
	return m.end(ctx, claims.SessionID)
}

// end marks the session sid ended for as long as any of its tokens lives.
func (m *Manager) end(ctx context.Context, sid string) error {
	return m.c.Pending.PutPending(ctx, m.c.Keys.Ended(sid), []byte{1}, m.c.Tokens.RefreshTTL()+time.Minute)
}

// EndAll ends every session and pending login of userID by bumping the
// token version. It returns store.ErrNotFound for an unknown user.
func (m *Manager) EndAll(ctx context.Context, userID string) error {
	_, err := m.c.Users.UpdateUser(ctx, userID, func(x *store.User) error {
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: ending every session: %w", err)
	}
	return nil
}

// remaining is the time until t, at least one millisecond.
func (m *Manager) remaining(t time.Time) time.Duration {
	if d := t.Sub(m.c.Now()); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}

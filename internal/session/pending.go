package session

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// The pending login: after a correct password, an account with two-factor
// authentication gets a pending login instead of a session, named by an
// opaque random token, which one correct code turns into a session.
const (
	// MaxPendingLogins is how many pending logins a user may have open;
	// opening one more makes the oldest unusable.
	MaxPendingLogins = 5
	// MaxCodeAttempts is how many wrong codes a pending login survives: the
	// MaxCodeAttempts-th wrong code destroys it.
	MaxCodeAttempts = 5
	// maxPendingToken bounds the token looked at; real tokens are 22
	// characters.
	maxPendingToken = 64
	// pendingSeqTTL is the life of a user's pending-login counter. It must
	// outlive the logins it numbers many times over; when it expires the
	// numbering restarts and, for at most one PendingLoginTTL, logins of
	// the old and the new numbering may both be open.
	pendingSeqTTL = 24 * time.Hour
	// evicted marks an index slot whose login was evicted before it was
	// indexed. No login key equals it.
	evicted = "-"
)

// Errors of the pending login.
var (
	// ErrPendingGone: the pending login does not exist (never did,
	// expired, was used, destroyed or evicted).
	ErrPendingGone = errors.New("session: pending login expired")
	// ErrPendingBusy: another code for the same pending login is being
	// checked.
	ErrPendingBusy = errors.New("session: pending login busy")
)

// pendingRecord is what the PendingStore keeps for a pending login, under
// a key derived from the hash of its token.
type pendingRecord struct {
	UserID       string `json:"uid"`
	TokenVersion int64  `json:"tv"`
}

// StartPending opens a pending login for u and returns its opaque token
// (128 random bits; never a JWT). A user's pending logins are numbered by
// an atomic counter and indexed by number; opening number n evicts number
// n-MaxPendingLogins, so at most MaxPendingLogins live at once. Each index
// slot is claimed with put-if-absent by its login and by its evictor,
// whichever comes first, so a login that loses the race against a newer
// one's eviction dies instead of outliving it.
func (m *Manager) StartPending(ctx context.Context, u store.User) (string, error) {
	ttl := m.c.PendingLoginTTL
	seq, _, err := m.c.Pending.IncrPending(ctx, m.c.Keys.PendingSeq(u.ID), pendingSeqTTL)
	if err != nil {
		return "", err
	}
	token := tokens.NewID()
	key := m.c.Keys.PendingLogin(token)
	rec, _ := json.Marshal(pendingRecord{UserID: u.ID, TokenVersion: u.TokenVersion})
	if err := m.c.Pending.PutPending(ctx, key, rec, ttl); err != nil {
		return "", err
	}
	indexed, err := m.c.Pending.AddPendingIfAbsent(ctx, m.c.Keys.PendingIndex(u.ID, seq), []byte(key), ttl)
	if err != nil {
		return "", err
	}
	if !indexed {
		// A newer login evicted this one before it was indexed; the token
		// is dead at birth, as the oldest of more than MaxPendingLogins.
		if err := m.c.Pending.DeletePending(ctx, key); err != nil {
			return "", err
		}
	}
	if seq > MaxPendingLogins {
		if err := m.evictPending(ctx, u.ID, seq-MaxPendingLogins); err != nil {
			return "", err
		}
	}
	return token, nil
}

// evictPending destroys the pending login numbered seq, or marks its slot
// so that it dies as soon as it is opened.
func (m *Manager) evictPending(ctx context.Context, userID string, seq int64) error {
	slot := m.c.Keys.PendingIndex(userID, seq)
	marked, err := m.c.Pending.AddPendingIfAbsent(ctx, slot, []byte(evicted), m.c.PendingLoginTTL)
	if err != nil || marked {
		return err
	}
	old, err := m.c.Pending.TakePending(ctx, slot)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // expired meanwhile
	case err != nil:
		return err
	case string(old) == evicted:
		return nil
	}
	return m.c.Pending.DeletePending(ctx, string(old))
}

// PendingUser returns the account and the token version of the pending
// login token, without claiming it: what a second factor's ceremony is
// prepared for. It returns ErrPendingGone for an unknown, expired or
// malformed token.
func (m *Manager) PendingUser(ctx context.Context, token string) (userID string, tokenVersion int64, err error) {
	if len(token) > maxPendingToken {
		return "", 0, ErrPendingGone
	}
	var rec pendingRecord
	raw, err := m.c.Pending.GetPending(ctx, m.c.Keys.PendingLogin(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", 0, ErrPendingGone
	case err != nil:
		return "", 0, err
	case json.Unmarshal(raw, &rec) != nil:
		return "", 0, ErrPendingGone
	}
	return rec.UserID, rec.TokenVersion, nil
}

// Pending is a pending login claimed for one code check: while it is
// held, no other check of the same login runs, so concurrent submissions
// can neither both spend a code nor have the failures of the losers
// destroy the login under the winner. Release it when the check is over.
type Pending struct {
	m   *Manager
	key string
	// UserID and TokenVersion are the account and its token version at
	// the password step; a login whose account has moved on since must be
	// discarded.
	UserID       string
	TokenVersion int64
	release      func()
}

// ClaimPending claims the pending login token for one code check. It
// returns ErrPendingGone for an unknown, expired or malformed token, and
// ErrPendingBusy while another check of it runs.
func (m *Manager) ClaimPending(ctx context.Context, token string) (*Pending, error) {
	if len(token) > maxPendingToken {
		return nil, ErrPendingGone
	}
	key := m.c.Keys.PendingLogin(token)
	claim := pendingBusy(key)
	claimed, err := m.c.Pending.AddPendingIfAbsent(ctx, claim, []byte{1}, m.c.WorkTimeout)
	if err != nil {
		return nil, err
	}
	if !claimed {
		return nil, ErrPendingBusy
	}
	release := func() {
		// The release outlives a cancelled request, but never a hung
		// store: it gets a deadline of its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.c.WorkTimeout)
		defer cancel()
		_ = m.c.Pending.DeletePending(rctx, claim)
	}
	var rec pendingRecord
	raw, err := m.c.Pending.GetPending(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = ErrPendingGone
	case err == nil && json.Unmarshal(raw, &rec) != nil:
		err = ErrPendingGone
	}
	if err != nil {
		release()
		return nil, err
	}
	return &Pending{m: m, key: key, UserID: rec.UserID, TokenVersion: rec.TokenVersion, release: release}, nil
}

// Release ends the claim.
func (p *Pending) Release() { p.release() }

// Fail counts a wrong code against the login and destroys the login at
// the MaxCodeAttempts-th; it reports whether it did.
func (p *Pending) Fail(ctx context.Context) (destroyed bool, err error) {
	n, _, err := p.m.c.Pending.IncrPending(ctx, pendingFails(p.key), p.m.c.PendingLoginTTL)
	if err != nil {
		return false, err
	}
	if n < MaxCodeAttempts {
		return false, nil
	}
	return true, p.Discard(ctx)
}

// Discard destroys the login (its account changed since the password
// step).
func (p *Pending) Discard(ctx context.Context) error {
	return p.m.c.Pending.DeletePending(ctx, p.key)
}

// Complete uses the login up, after its code was accepted: it returns
// ErrPendingGone if the login expired or was evicted meanwhile (the claim
// keeps other checks out, so nothing else can have used it).
func (p *Pending) Complete(ctx context.Context) error {
	if _, err := p.m.c.Pending.TakePending(ctx, p.key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrPendingGone
		}
		return err
	}
	_ = p.m.c.Pending.DeletePending(ctx, pendingFails(p.key))
	return nil
}

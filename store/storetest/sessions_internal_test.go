package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// TestFullSessionSetsEveryField guards the round-trip case: a Session
// field that fullSession leaves at its zero value would go unchecked.
func TestFullSessionSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullSession("id", "user"))
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullSession: Session.%s: got the zero value, want a distinctive one", v.Type().Field(i).Name)
		}
	}
}

// refSessions is a minimal correct store.SessionStore: the suite must pass
// it, and fail each broken variant of it.
type refSessions struct {
	mu sync.Mutex
	m  map[string]store.Session
	// broken names the defect this store has; "" for none.
	broken string
}

func newRefSessions(broken string) *refSessions {
	return &refSessions{m: make(map[string]store.Session), broken: broken}
}

var _ store.SessionStore = (*refSessions)(nil)

func (s *refSessions) ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil && s.broken != "ignores-context" {
		return fmt.Errorf("ref: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// stored returns t as the reference store keeps it.
func (s *refSessions) stored(in store.Session) store.Session {
	if s.broken == "keeps-seconds" {
		in.CreatedAt = in.CreatedAt.Truncate(time.Second)
	}
	return in
}

func (s *refSessions) CreateSession(ctx context.Context, in store.Session) error {
	if err := s.ended(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[in.ID]; ok && s.broken != "create-overwrites" {
		return errors.New("ref: session ID taken")
	}
	s.m[in.ID] = s.stored(in)
	return nil
}

func (s *refSessions) SessionByID(ctx context.Context, id string) (store.Session, error) {
	if err := s.ended(ctx); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return v, nil
}

func (s *refSessions) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	if err := s.ended(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Session
	for _, v := range s.m {
		if v.UserID == userID || (s.broken == "lists-every-user" && userID != "") {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		if s.broken == "lists-by-id" {
			return cmp.Compare(a.ID, b.ID)
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *refSessions) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	if err := s.ended(ctx); err != nil {
		return store.Session{}, false, err
	}
	s.mu.Lock()
	v, ok := s.m[id]
	if !ok {
		s.mu.Unlock()
		if s.broken == "rotate-unknown-ok" {
			return store.Session{}, false, nil
		}
		return store.Session{}, false, store.ErrNotFound
	}
	if s.broken == "read-then-write" {
		// The check and the write in two steps: a race between them.
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	match := v.RefreshID == from || s.broken == "ignores-from"
	live := v.RevokedAt.IsZero() || s.broken == "rotates-revoked"
	if !match || !live {
		return v, false, nil
	}
	v.PreviousRefreshID, v.RefreshID = v.RefreshID, r.To
	v.RotatedAt, v.LastUsedAt, v.IdleExpiresAt = r.At, r.At, r.IdleExpiresAt
	v.LastIP, v.LastUserAgent = r.IP, r.UserAgent
	if s.broken == "rotate-forgets-ip" {
		v.LastIP = ""
	}
	s.m[id] = v
	return v, true, nil
}

func (s *refSessions) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	if err := s.ended(ctx); err != nil {
		return store.Session{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return store.Session{}, false, store.ErrNotFound
	}
	if !v.RevokedAt.IsZero() && s.broken != "revokes-again" {
		return v, false, nil
	}
	v.RevokedAt, v.RevokeReason = at, reason
	s.m[id] = v
	return v, true, nil
}

func (s *refSessions) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	if err := s.ended(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, v := range s.m {
		if v.UserID != userID || (id == except && s.broken != "revokes-except") {
			continue
		}
		if !v.RevokedAt.IsZero() && s.broken != "revokes-again" {
			continue
		}
		v.RevokedAt, v.RevokeReason = at, reason
		s.m[id] = v
		n++
	}
	return n, nil
}

func (s *refSessions) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	if err := s.ended(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, v := range s.m {
		idle := v.IdleExpiresAt.Before(before)
		abs := v.ExpiresAt.Before(before) && s.broken != "purges-by-idle-only"
		if idle || abs || (s.broken == "purges-at-before" && !v.IdleExpiresAt.After(before)) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

func TestSessionSuitePassesReference(t *testing.T) {
	RunSessionStore(t, func(*testing.T) store.SessionStore { return newRefSessions("") })
}

// brokenEnv names the environment variable that makes
// TestSessionSuiteFailsBrokenStores, run again as a child process, run the
// suite on one broken store.
const brokenEnv = "STORETEST_BROKEN_SESSION_STORE"

// TestSessionSuiteFailsBrokenStores runs the suite, in a child process of
// this test binary, against each defect of the reference store, and
// requires the case named to fail: a suite that passes a broken store
// proves nothing.
func TestSessionSuiteFailsBrokenStores(t *testing.T) {
	if broken := os.Getenv(brokenEnv); broken != "" {
		RunSessionStore(t, func(*testing.T) store.SessionStore { return newRefSessions(broken) })
		return
	}
	failsBroken(t, "TestSessionSuiteFailsBrokenStores", brokenEnv, "store", []brokenCase{
		{"ignores-from", "RotateFromOtherRefreshID"},
		{"ignores-from", "ConcurrentRotate"},
		{"read-then-write", "ConcurrentRotate"},
		{"rotates-revoked", "RotateRevokedSession"},
		{"rotate-forgets-ip", "RotateApplies"},
		{"rotate-unknown-ok", "RotateAndRevokeUnknown"},
		{"revokes-again", "RevokeOnce"},
		{"revokes-again", "ConcurrentRevoke"},
		{"revokes-again", "RevokeUserSessions"},
		{"revokes-except", "RevokeUserSessions"},
		{"purges-by-idle-only", "Purge"},
		{"purges-at-before", "Purge"},
		{"lists-by-id", "SessionsByUserNewestFirst"},
		{"lists-every-user", "SessionsByUserNewestFirst"},
		{"create-overwrites", "CreateDuplicateID"},
		{"keeps-seconds", "RoundTripFullSession"},
		{"ignores-context", "EndedContextIsUnavailable"},
	}, false)
}

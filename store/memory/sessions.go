package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/authsys-go/authsys/store"
)

// The session records (store.SessionStore) live in s.sessions, indexed by
// user in s.userSessions. Every method holds s.mu from its check to its
// write, so each is atomic. Sessions stay until PurgeSessions deletes them:
// the Store's clock plays no part, since the caller passes every instant.

// CreateSession stores s. An ID already stored gives an error (wrapping
// neither store.ErrNotFound nor store.ErrUnavailable) and changes nothing.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := ended(ctx, "CreateSession"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.sessions[sess.ID]; taken {
		return fmt.Errorf("memory: CreateSession: session ID %q already exists", sess.ID)
	}
	s.sessions[sess.ID] = sess
	ids := s.userSessions[sess.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		s.userSessions[sess.UserID] = ids
	}
	ids[sess.ID] = struct{}{}
	return nil
}

// SessionByID returns the session id, revoked or expired ones included
// until purged, or store.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	if err := ended(ctx, "SessionByID"); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// SessionsByUser returns every stored session of userID, revoked and
// expired ones included until purged, newest CreatedAt first and ties by
// ID; none for an unknown user.
func (s *Store) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	if err := ended(ctx, "SessionsByUser"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	ids := s.userSessions[userID]
	out := make([]store.Session, 0, len(ids))
	for id := range ids {
		out = append(out, s.sessions[id])
	}
	s.mu.Unlock()
	slices.SortFunc(out, newestFirst)
	return out, nil
}

// newestFirst orders sessions by CreatedAt, newest first, then by ID.
func newestFirst(a, b store.Session) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// RotateSession, under the Store's lock, moves the session id on to r.To
// if it is not revoked and its RefreshID is from, and returns it and true;
// otherwise it returns the session as stored and false. Of concurrent
// callers with the same from exactly one gets true. It returns
// store.ErrNotFound for an unknown id.
func (s *Store) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	if err := ended(ctx, "RotateSession"); err != nil {
		return store.Session{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return store.Session{}, false, store.ErrNotFound
	}
	if sess.RefreshID != from || !sess.RevokedAt.IsZero() {
		return sess, false, nil
	}
	sess.PreviousRefreshID, sess.RefreshID = from, r.To
	sess.RotatedAt, sess.LastUsedAt, sess.IdleExpiresAt = r.At, r.At, r.IdleExpiresAt
	sess.LastIP, sess.LastUserAgent = r.IP, r.UserAgent
	s.sessions[id] = sess
	return sess, true, nil
}

// RevokeSession sets RevokedAt to at and RevokeReason to reason if the
// session is not revoked yet, and reports whether it did, with the session
// as stored. It returns store.ErrNotFound for an unknown id.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	if err := ended(ctx, "RevokeSession"); err != nil {
		return store.Session{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return store.Session{}, false, store.ErrNotFound
	}
	if !sess.RevokedAt.IsZero() {
		return sess, false, nil
	}
	sess.RevokedAt, sess.RevokeReason = at, reason
	s.sessions[id] = sess
	s.announce(store.Change{Kind: store.ChangeSession, ID: id})
	return sess, true, nil
}

// RevokeUserSessions revokes every session of userID not yet revoked
// except the one whose ID is except, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	if err := ended(ctx, "RevokeUserSessions"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range s.userSessions[userID] {
		sess := s.sessions[id]
		if id == except || !sess.RevokedAt.IsZero() {
			continue
		}
		sess.RevokedAt, sess.RevokeReason = at, reason
		s.sessions[id] = sess
		n++
	}
	if n > 0 {
		s.announce(store.Change{Kind: store.ChangeUser, ID: userID})
	}
	return n, nil
}

// PurgeSessions deletes every session whose IdleExpiresAt or ExpiresAt is
// before before, revoked or not, and returns how many it deleted. It
// visits every session.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	if err := ended(ctx, "PurgeSessions"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.sessions {
		if !sess.IdleExpiresAt.Before(before) && !sess.ExpiresAt.Before(before) {
			continue
		}
		delete(s.sessions, id)
		ids := s.userSessions[sess.UserID]
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.userSessions, sess.UserID)
		}
		n++
	}
	return n, nil
}

package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/authsys-go/authsys/store"
)

// The passkeys (store.PasskeyStore) live in s.passkeys, indexed by
// credential ID in s.byCredential. Every method holds s.mu from its check
// to its write, so each is atomic.

// CreatePasskey stores a copy of p. A credential ID already stored gives
// store.ErrCredentialTaken, an ID already stored another error; either way
// nothing is stored.
func (s *Store) CreatePasskey(ctx context.Context, p store.Passkey) error {
	if err := ended(ctx, "CreatePasskey"); err != nil {
		return err
	}
	p = p.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.byCredential[string(p.CredentialID)]; taken {
		return store.ErrCredentialTaken
	}
	if _, taken := s.passkeys[p.ID]; taken {
		return fmt.Errorf("memory: CreatePasskey: passkey ID %q already exists", p.ID)
	}
	s.passkeys[p.ID] = p
	s.byCredential[string(p.CredentialID)] = p.ID
	return nil
}

// PasskeysByUser returns copies of the passkeys of userID, oldest
// CreatedAt first and ties by ID; none for an unknown user. It visits
// every passkey, which is fine for the counts a memory store holds.
func (s *Store) PasskeysByUser(ctx context.Context, userID string) ([]store.Passkey, error) {
	if err := ended(ctx, "PasskeysByUser"); err != nil {
		return nil, err
	}
	var out []store.Passkey
	s.mu.Lock()
	for _, p := range s.passkeys {
		if p.UserID == userID {
			out = append(out, p.Clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// PasskeyByCredentialID returns a copy of the passkey whose credential ID
// is credentialID, or store.ErrNotFound.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	if err := ended(ctx, "PasskeyByCredentialID"); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byCredential[string(credentialID)]
	if !ok {
		return store.Passkey{}, store.ErrNotFound
	}
	return s.passkeys[id].Clone(), nil
}

// UsePasskey, under the Store's lock, records a use of the passkey id if
// signCount is greater than the stored one or both are zero, and returns
// it and true; otherwise it returns the passkey as stored and false. It
// returns store.ErrNotFound for an unknown id.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) (store.Passkey, bool, error) {
	if err := ended(ctx, "UsePasskey"); err != nil {
		return store.Passkey{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passkeys[id]
	if !ok {
		return store.Passkey{}, false, store.ErrNotFound
	}
	if signCount <= p.SignCount && (signCount != 0 || p.SignCount != 0) {
		return p.Clone(), false, nil
	}
	p.SignCount, p.BackupState, p.LastUsedAt = signCount, backupState, at
	s.passkeys[id] = p
	return p.Clone(), true, nil
}

// RenamePasskey sets the name of the passkey id of userID and returns it,
// or store.ErrNotFound.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) (store.Passkey, error) {
	if err := ended(ctx, "RenamePasskey"); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passkeys[id]
	if !ok || p.UserID != userID {
		return store.Passkey{}, store.ErrNotFound
	}
	p.Name = name
	s.passkeys[id] = p
	return p.Clone(), nil
}

// DeletePasskey deletes the passkey id of userID and returns it, or
// store.ErrNotFound.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) (store.Passkey, error) {
	if err := ended(ctx, "DeletePasskey"); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passkeys[id]
	if !ok || p.UserID != userID {
		return store.Passkey{}, store.ErrNotFound
	}
	delete(s.passkeys, id)
	delete(s.byCredential, string(p.CredentialID))
	return p.Clone(), nil
}

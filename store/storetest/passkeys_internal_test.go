package storetest

import (
	"bytes"
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

// TestFullPasskeySetsEveryField guards the round-trip case: a Passkey
// field that fullPasskey leaves at its zero value would go unchecked.
func TestFullPasskeySetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullPasskey("id", "user", 1))
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullPasskey: Passkey.%s: got the zero value, want a distinctive one", v.Type().Field(i).Name)
		}
	}
}

// refPasskeys is a minimal correct store.PasskeyStore: the suite must pass
// it, and fail each broken variant of it.
type refPasskeys struct {
	mu sync.Mutex
	m  map[string]store.Passkey
	// broken names the defect this store has; "" for none.
	broken string
}

func newRefPasskeys(broken string) *refPasskeys {
	return &refPasskeys{m: make(map[string]store.Passkey), broken: broken}
}

var _ store.PasskeyStore = (*refPasskeys)(nil)

func (s *refPasskeys) ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil && s.broken != "ignores-context" {
		return fmt.Errorf("ref: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// out returns p as the store hands it out.
func (s *refPasskeys) out(p store.Passkey) store.Passkey {
	if s.broken == "shares-slices" {
		return p
	}
	return p.Clone()
}

// sameCredential compares credential IDs as the store does.
func (s *refPasskeys) sameCredential(a, b []byte) bool {
	if s.broken == "credential-ignores-case" {
		return bytes.EqualFold(a, b)
	}
	return bytes.Equal(a, b)
}

func (s *refPasskeys) CreatePasskey(ctx context.Context, p store.Passkey) error {
	if err := s.ended(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.m {
		if s.sameCredential(q.CredentialID, p.CredentialID) && s.broken != "create-overwrites-credential" {
			return store.ErrCredentialTaken
		}
	}
	if _, ok := s.m[p.ID]; ok && s.broken != "create-overwrites-id" {
		return errors.New("ref: passkey ID taken")
	}
	if s.broken == "keeps-seconds" {
		p.CreatedAt = p.CreatedAt.Truncate(time.Second)
	}
	if s.broken != "shares-slices" {
		p = p.Clone()
	}
	s.m[p.ID] = p
	return nil
}

func (s *refPasskeys) PasskeysByUser(ctx context.Context, userID string) ([]store.Passkey, error) {
	if err := s.ended(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Passkey
	for _, p := range s.m {
		if p.UserID == userID || (s.broken == "lists-every-user" && userID != "") {
			out = append(out, s.out(p))
		}
	}
	slices.SortFunc(out, func(a, b store.Passkey) int {
		if s.broken == "lists-by-id" {
			return cmp.Compare(a.ID, b.ID)
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *refPasskeys) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	if err := s.ended(ctx); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.m {
		if s.sameCredential(p.CredentialID, credentialID) {
			return s.out(p), nil
		}
	}
	return store.Passkey{}, store.ErrNotFound
}

func (s *refPasskeys) UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) (store.Passkey, bool, error) {
	if err := s.ended(ctx); err != nil {
		return store.Passkey{}, false, err
	}
	s.mu.Lock()
	p, ok := s.m[id]
	if !ok {
		s.mu.Unlock()
		return store.Passkey{}, false, store.ErrNotFound
	}
	if s.broken == "read-then-write" {
		// The check and the write in two steps: a race between them.
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	forward := signCount > p.SignCount || (signCount == 0 && p.SignCount == 0)
	switch s.broken {
	case "counter-allows-equal":
		forward = signCount >= p.SignCount
	case "counter-allows-reset":
		forward = forward || signCount == 0
	case "counter-ignores-zero":
		forward = signCount > p.SignCount
	}
	if !forward {
		return s.out(p), false, nil
	}
	p.SignCount, p.BackupState, p.LastUsedAt = signCount, backupState, at
	if s.broken == "use-forgets-backup-state" {
		p.BackupState = false
	}
	s.m[id] = p
	return s.out(p), true, nil
}

func (s *refPasskeys) RenamePasskey(ctx context.Context, userID, id, name string) (store.Passkey, error) {
	if err := s.ended(ctx); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[id]
	if !ok || (p.UserID != userID && s.broken != "rename-ignores-user") {
		return store.Passkey{}, store.ErrNotFound
	}
	p.Name = name
	s.m[id] = p
	return s.out(p), nil
}

func (s *refPasskeys) DeletePasskey(ctx context.Context, userID, id string) (store.Passkey, error) {
	if err := s.ended(ctx); err != nil {
		return store.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[id]
	if !ok || (p.UserID != userID && s.broken != "delete-ignores-user") {
		return store.Passkey{}, store.ErrNotFound
	}
	if s.broken == "delete-keeps-credential" {
		// The credential stays registered under a hidden record.
		p.ID, p.UserID = "hidden-"+p.ID, ""
		s.m[p.ID] = p
	}
	delete(s.m, id)
	return s.out(p), nil
}

func TestPasskeySuitePassesReference(t *testing.T) {
	RunPasskeyStore(t, func(*testing.T) store.PasskeyStore { return newRefPasskeys("") })
}

// brokenPasskeyEnv names the environment variable that makes
// TestPasskeySuiteFailsBrokenStores, run again as a child process, run the
// suite on one broken store.
const brokenPasskeyEnv = "STORETEST_BROKEN_PASSKEY_STORE"

// TestPasskeySuiteFailsBrokenStores runs the suite, in a child process of
// this test binary, against each defect of the reference store, and
// requires the case named to fail: a suite that passes a broken store
// proves nothing.
func TestPasskeySuiteFailsBrokenStores(t *testing.T) {
	if broken := os.Getenv(brokenPasskeyEnv); broken != "" {
		RunPasskeyStore(t, func(*testing.T) store.PasskeyStore { return newRefPasskeys(broken) })
		return
	}
	failsBroken(t, "TestPasskeySuiteFailsBrokenStores", brokenPasskeyEnv, "store", []brokenCase{
		{"create-overwrites-credential", "CreateTakenCredentialID"},
		{"create-overwrites-id", "CreateTakenID"},
		{"credential-ignores-case", "CredentialIDsAreBytes"},
		{"lists-by-id", "PasskeysByUserOldestFirst"},
		{"lists-every-user", "PasskeysByUserOldestFirst"},
		{"shares-slices", "ReturnedPasskeysAreCopies"},
		{"keeps-seconds", "RoundTripFullPasskey"},
		{"counter-allows-equal", "UseMovesTheCounterForward"},
		{"counter-allows-equal", "ConcurrentUse"},
		{"counter-allows-reset", "UseWithoutCounter"},
		{"counter-ignores-zero", "UseWithoutCounter"},
		{"use-forgets-backup-state", "UseMovesTheCounterForward"},
		{"read-then-write", "ConcurrentUse"},
		{"rename-ignores-user", "Rename"},
		{"delete-ignores-user", "Delete"},
		{"delete-keeps-credential", "Delete"},
		{"ignores-context", "EndedContextIsUnavailable"},
	}, false)
}

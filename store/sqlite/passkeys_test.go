package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/sqlite"
	"github.com/authsys-go/authsys/store/storetest"
)

func TestPasskeyStore(t *testing.T) {
	storetest.RunPasskeyStoreHarness(t, func(t *testing.T) storetest.PasskeyHarness {
		s, closeStore := harness(t)
		return storetest.PasskeyHarness{Store: s, Break: closeStore}
	})
}

// TestPasskeysGoWithTheirUser: deleting an account's row deletes its
// passkeys (the foreign key), and a passkey of an unknown user is refused.
func TestPasskeysGoWithTheirUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authsys.db")
	s := open(t, path)
	ctx := t.Context()
	gone, err := s.CreateUser(ctx, store.User{Email: "gone@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	kept, err := s.CreateUser(ctx, store.User{Email: "kept@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	pk := func(id, userID string) store.Passkey {
		return store.Passkey{ID: id, UserID: userID, CredentialID: []byte("cred-" + id), PublicKey: []byte("k"), CreatedAt: time.Now()}
	}
	for _, p := range []store.Passkey{pk("g1", gone.ID), pk("g2", gone.ID), pk("k1", kept.ID)} {
		if err := s.CreatePasskey(ctx, p); err != nil {
			t.Fatalf("CreatePasskey(%s): got error %v, want nil", p.ID, err)
		}
	}
	if err := s.CreatePasskey(ctx, pk("orphan", "no-such-user")); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreatePasskey of an unknown user: got error %v, want a refusal", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DELETE FROM users WHERE id = ?", gone.ID); err != nil {
		t.Fatalf("DELETE FROM users: %v", err)
	}
	if n := count(t, db, "SELECT count(*) FROM passkeys"); n != 1 {
		t.Errorf("passkeys after deleting a user with two: got %d rows, want 1", n)
	}
	if _, err := s.PasskeyByCredentialID(ctx, []byte("cred-g1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PasskeyByCredentialID of a deleted user's passkey: got error %v, want %v", err, store.ErrNotFound)
	}
	if ps, err := s.PasskeysByUser(ctx, kept.ID); err != nil || len(ps) != 1 {
		t.Errorf("PasskeysByUser of the other user: got %d, %v; want 1, nil", len(ps), err)
	}
}

var _ store.PasskeyStore = (*sqlite.Store)(nil)

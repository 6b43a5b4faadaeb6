package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/storetest"
)

func TestPasskeyStore(t *testing.T) {
	base := testPool(t)
	storetest.RunPasskeyStoreHarness(t, storetest.Fresh(func(t *testing.T, name string) storetest.PasskeyHarness {
		s, pool := freshStore(t, base, name)
		return storetest.PasskeyHarness{Store: s, Break: pool.Close}
	}))
}

// TestPasskeysGoWithTheirUser: deleting an account's row deletes its
// passkeys (the foreign key), and a passkey of an unknown user is refused.
func TestPasskeysGoWithTheirUser(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool)
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
	schema := pgx.Identifier{s.Schema()}.Sanitize()
	if _, err := pool.Exec(ctx, "DELETE FROM "+schema+".users WHERE id = $1", gone.ID); err != nil {
		t.Fatalf("DELETE FROM users: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".passkeys").Scan(&n); err != nil || n != 1 {
		t.Errorf("passkeys after deleting a user with two: got %d rows (%v), want 1", n, err)
	}
	if _, err := s.PasskeyByCredentialID(ctx, []byte("cred-g1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PasskeyByCredentialID of a deleted user's passkey: got error %v, want %v", err, store.ErrNotFound)
	}
	if ps, err := s.PasskeysByUser(ctx, kept.ID); err != nil || len(ps) != 1 {
		t.Errorf("PasskeysByUser of the other user: got %d, %v; want 1, nil", len(ps), err)
	}
}

package memory_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/storetest"
)

func TestUserStore(t *testing.T) {
	storetest.RunUserStoreHarness(t, func(*testing.T) storetest.UserHarness {
		return storetest.UserHarness{Store: memory.New(), Profile: storetest.JSONProfile()}
	})
}

func TestPendingStore(t *testing.T) {
	storetest.RunPendingStore(t, func(*testing.T) storetest.PendingHarness {
		c := storetest.NewClock()
		return storetest.PendingHarness{Store: memory.New(memory.WithClock(c.Now)), Advance: c.Advance}
	})
}

func TestSessionStore(t *testing.T) {
	storetest.RunSessionStore(t, func(*testing.T) store.SessionStore {
		return memory.New(memory.WithClock(storetest.NewClock().Now))
	})
}

// TestCreateUserID checks the form of the IDs memory assigns. (A given ID
// and a duplicate one are storetest's cases.)
func TestCreateUserID(t *testing.T) {
	s := memory.New()
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if len(u.ID) != 32 || strings.Trim(u.ID, "0123456789abcdef") != "" {
		t.Errorf("ID: got %q, want 32 lower-case hex digits", u.ID)
	}
}

func TestListUsersNonPositiveLimit(t *testing.T) {
	s := memory.New()
	if _, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"}); err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	for _, limit := range []int{0, -1} {
		users, err := s.ListUsers(t.Context(), "", "", limit)
		if err != nil || len(users) != 0 {
			t.Errorf("ListUsers(limit %d): got %d users, error %v; want 0, nil", limit, len(users), err)
		}
	}
}

func TestPendingNonPositiveTTL(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.PutPending(ctx, "put", []byte("v"), ttl); err == nil {
			t.Errorf("PutPending(ttl %v): got nil error, want an error", ttl)
		}
		if ok, err := s.AddPendingIfAbsent(ctx, "add", []byte("v"), ttl); err == nil || ok {
			t.Errorf("AddPendingIfAbsent(ttl %v): got %v, %v; want false and an error", ttl, ok, err)
		}
		if _, _, err := s.IncrPending(ctx, "incr", ttl); err == nil {
			t.Errorf("IncrPending(ttl %v): got nil error, want an error", ttl)
		}
	}
	for _, key := range []string{"put", "add", "incr"} {
		if _, err := s.GetPending(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetPending(%q): got error %v, want %v", key, err, store.ErrNotFound)
		}
	}
}

// TestIncrPendingOnNonCounter: IncrPending refuses a key holding a value
// that is not a counter, and leaves the value alone. (GetPending of a
// counter is storetest's CounterIsDecimal case.)
func TestIncrPendingOnNonCounter(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	if err := s.PutPending(ctx, "v", []byte("not a number"), time.Minute); err != nil {
		t.Fatalf("PutPending: got error %v, want nil", err)
	}
	if n, _, err := s.IncrPending(ctx, "v", time.Minute); err == nil {
		t.Errorf("IncrPending on a non-counter value: got %d, nil; want an error", n)
	}
	if got, err := s.GetPending(ctx, "v"); err != nil || string(got) != "not a number" {
		t.Errorf("GetPending after refused IncrPending: got %q, %v; want \"not a number\", nil", got, err)
	}
}

func TestPasskeyStore(t *testing.T) {
	storetest.RunPasskeyStore(t, func(*testing.T) store.PasskeyStore { return memory.New() })
}

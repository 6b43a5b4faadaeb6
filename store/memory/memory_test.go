package memory_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/storetest"
)

func TestUserStore(t *testing.T) {
	storetest.RunUserStore(t, func(*testing.T) store.UserStore { return memory.New() })
}

func TestPendingStore(t *testing.T) {
	storetest.RunPendingStore(t, func(*testing.T) storetest.PendingHarness {
		c := newFakeClock()
		return storetest.PendingHarness{Store: memory.New(memory.WithClock(c.Now)), Advance: c.Advance}
	})
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCreateUserID(t *testing.T) {
	s := memory.New()
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	if len(u.ID) != 32 || strings.Trim(u.ID, "0123456789abcdef") != "" {
		t.Errorf("ID: got %q, want 32 lower-case hex digits", u.ID)
	}

	given, err := s.CreateUser(t.Context(), store.User{ID: "given", Email: "b@example.test"})
	if err != nil || given.ID != "given" {
		t.Errorf("CreateUser with ID \"given\": got ID %q, error %v; want \"given\", nil", given.ID, err)
	}
	if _, err := s.CreateUser(t.Context(), store.User{ID: "given", Email: "c@example.test"}); err == nil {
		t.Errorf("CreateUser with a duplicate ID: got nil error, want an error")
	}
	if _, err := s.UserByEmail(t.Context(), "c@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail after a refused duplicate ID: got error %v, want %v", err, store.ErrNotFound)
	}
}

func TestUpdateUserRefusesIDChange(t *testing.T) {
	s := memory.New()
	u, err := s.CreateUser(t.Context(), store.User{Email: "a@example.test"})
	if err != nil {
		t.Fatalf("CreateUser: got error %v, want nil", err)
	}
	_, err = s.UpdateUser(t.Context(), u.ID, func(u *store.User) error {
		u.ID = "other"
		u.TokenVersion = 9
		return nil
	})
	if err == nil {
		t.Errorf("UpdateUser changing ID: got nil error, want an error")
	}
	got, err := s.UserByID(t.Context(), u.ID)
	if err != nil || got.TokenVersion != 0 {
		t.Errorf("UserByID after refused update: got TokenVersion %d, error %v; want 0, nil", got.TokenVersion, err)
	}
	if _, err := s.UserByID(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(\"other\"): got error %v, want %v", err, store.ErrNotFound)
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

func TestIncrPendingCounterValue(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	for range 12 {
		if _, _, err := s.IncrPending(ctx, "n", time.Minute); err != nil {
			t.Fatalf("IncrPending: got error %v, want nil", err)
		}
	}
	if got, err := s.GetPending(ctx, "n"); err != nil || string(got) != "12" {
		t.Errorf("GetPending(counter): got %q, %v; want \"12\", nil", got, err)
	}

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

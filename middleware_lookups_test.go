package authsys_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store/memory"
)

// countingStore counts the UserStore reads and writes made through it.
type countingStore struct {
	*memory.Store
	reads, writes atomic.Int64
}

func (s *countingStore) UserByID(ctx context.Context, id string) (authsys.User, error) {
	s.reads.Add(1)
	return s.Store.UserByID(ctx, id)
}

func (s *countingStore) UserByEmail(ctx context.Context, email string) (authsys.User, error) {
	s.reads.Add(1)
	return s.Store.UserByEmail(ctx, email)
}

func (s *countingStore) UpdateUser(ctx context.Context, id string, fn func(*authsys.User) error) (authsys.User, error) {
	s.writes.Add(1)
	return s.Store.UpdateUser(ctx, id, fn)
}

// TestMiddlewareOneLookup counts UserStore calls: an authenticated request
// through Middleware, or to /me/, makes exactly one read and no write; a
// request without a valid token makes none.
func TestMiddlewareOneLookup(t *testing.T) {
	var cs *countingStore
	e := newEnv(t, func(c *authsys.Config) {
		cs = &countingStore{Store: c.Users.(*memory.Store)}
		c.Users = cs
	})
	e.signupVerified("count@example.com", goodPassword)
	c := e.loggedIn("count@example.com", goodPassword)
	for _, tc := range []struct {
		name   string
		client *client
		path   string
		status int
		reads  int64
	}{
		{"middleware", c, "/api/private", http.StatusOK, 1},
		{"me", c, "/api/auth/me/", http.StatusOK, 1},
		{"no token", e.client(), "/api/private", http.StatusUnauthorized, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r0, w0 := cs.reads.Load(), cs.writes.Load()
			expect(t, tc.client.do(http.MethodGet, tc.path, nil), tc.status, "")
			if r, w := cs.reads.Load()-r0, cs.writes.Load()-w0; r != tc.reads || w != 0 {
				t.Errorf("got %d reads and %d writes, want %d and 0", r, w, tc.reads)
			}
		})
	}
}

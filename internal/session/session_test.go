package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/storetest"
	"github.com/authsys-go/authsys/tokens"
)

// core is a Manager on a memory store and a fake clock.
type core struct {
	m     *session.Manager
	store *memory.Store
	clock *storetest.Clock
	keys  session.Keys
}

func newCore(t *testing.T, mutate ...func(*session.Config)) *core {
	t.Helper()
	clock := storetest.NewClock()
	st := memory.New(memory.WithClock(clock.Now))
	tm, err := tokens.NewManager(tokens.Options{
		Keys: []tokens.Key{{ID: "k1", Secret: []byte(strings.Repeat("k", 32))}},
		Now:  clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := session.Config{
		Users: st, Pending: st, Tokens: tm, Keys: session.NewKeys("t:"), Now: clock.Now,
		ReuseGrace: 10 * time.Second, CheckEnded: true,
		PendingLoginTTL: 5 * time.Minute, WorkTimeout: 10 * time.Second,
	}
	for _, m := range mutate {
		m(&c)
	}
	return &core{m: session.New(c), store: st, clock: clock, keys: c.Keys}
}

func (c *core) user(t *testing.T, email string) store.User {
	t.Helper()
	u, err := c.store.CreateUser(t.Context(), store.User{Email: email, IsActive: true, DateJoined: c.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (c *core) update(t *testing.T, id string, fn func(*store.User)) {
	t.Helper()
	if _, err := c.store.UpdateUser(t.Context(), id, func(x *store.User) error { fn(x); return nil }); err != nil {
		t.Fatal(err)
	}
}

func (c *core) start(t *testing.T, u store.User) session.Issued {
	t.Helper()
	is, err := c.m.Start(u)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func TestStartAuthenticates(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	is := c.start(t, u)
	got, claims, err := c.m.Authenticate(t.Context(), is.Access)
	if err != nil || got.ID != u.ID || claims.SessionID == "" {
		t.Fatalf("got %v %q %v, want the user and a session", got.ID, claims.SessionID, err)
	}
	if is.AccessTTL != 15*time.Minute || !is.RefreshExpires.Equal(c.clock.Now().Truncate(time.Second).Add(7*24*time.Hour)) {
		t.Errorf("got access TTL %v, refresh expiry %v; want 15m and now+7d", is.AccessTTL, is.RefreshExpires)
	}
	if _, _, err := c.m.Authenticate(t.Context(), is.Refresh); !errors.Is(err, tokens.ErrInvalid) {
		t.Errorf("a refresh token as access token: got %v, want tokens.ErrInvalid", err)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *core, u store.User)
		want   error
	}{
		{"token version bumped", func(c *core, u store.User) { c.update(t, u.ID, func(x *store.User) { x.TokenVersion++ }) }, session.ErrRevoked},
		{"inactive", func(c *core, u store.User) { c.update(t, u.ID, func(x *store.User) { x.IsActive = false }) }, session.ErrInactive},
		{"expired", func(c *core, u store.User) { c.clock.Advance(16 * time.Minute) }, tokens.ErrExpired},
		{"all ended", func(c *core, u store.User) {
			if err := c.m.EndAll(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
		}, session.ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t)
			u := c.user(t, "a@example.com")
			is := c.start(t, u)
			tt.change(c, u)
			_, _, err := c.m.Authenticate(t.Context(), is.Access)
			wantErr(t, "Authenticate", err, tt.want)
		})
	}
}

func TestRefreshRotates(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	c.clock.Advance(time.Second)
	next, got, err := c.m.Refresh(t.Context(), first.Refresh)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Refresh: got %v, %v; want the user", got.ID, err)
	}
	if next.Refresh == first.Refresh || next.Access == first.Access {
		t.Fatal("Refresh returned the same tokens, want new ones")
	}
	_, a, _ := c.m.Authenticate(t.Context(), first.Access)
	_, b, err := c.m.Authenticate(t.Context(), next.Access)
	if err != nil || a.SessionID != b.SessionID {
		t.Fatalf("got session %q then %q (%v), want one session", a.SessionID, b.SessionID, err)
	}
	// Within the grace the old token gives the same successor.
	again, _, err := c.m.Refresh(t.Context(), first.Refresh)
	if err != nil || again.Refresh != next.Refresh {
		t.Fatalf("reuse within the grace: got %v, a different successor %t; want the same successor", err, again.Refresh != next.Refresh)
	}
}

func TestRefreshReuseAfterGraceEndsTheSession(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	next, _, err := c.m.Refresh(t.Context(), first.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(11 * time.Second)
	_, got, err := c.m.Refresh(t.Context(), first.Refresh)
	wantErr(t, "replay", err, session.ErrReused)
	if got.ID != u.ID {
		t.Errorf("replay: got user %q, want %q for the event", got.ID, u.ID)
	}
	_, _, err = c.m.Refresh(t.Context(), next.Refresh)
	wantErr(t, "successor after a replay", err, session.ErrRevoked)
	_, _, err = c.m.Authenticate(t.Context(), next.Access)
	wantErr(t, "access token after a replay", err, session.ErrEnded)
}

func TestRefreshWithoutGrace(t *testing.T) {
	c := newCore(t, func(cfg *session.Config) { cfg.ReuseGrace = 0 })
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	if _, _, err := c.m.Refresh(t.Context(), first.Refresh); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.m.Refresh(t.Context(), first.Refresh)
	wantErr(t, "second use in the same tick", err, session.ErrReused)
}

func TestRefreshRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *core, u store.User)
		want   error
	}{
		{"inactive", func(c *core, u store.User) { c.update(t, u.ID, func(x *store.User) { x.IsActive = false }) }, session.ErrInactive},
		{"token version bumped", func(c *core, u store.User) { c.update(t, u.ID, func(x *store.User) { x.TokenVersion++ }) }, session.ErrRevoked},
		{"expired", func(c *core, u store.User) { c.clock.Advance(8 * 24 * time.Hour) }, tokens.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t)
			u := c.user(t, "a@example.com")
			is := c.start(t, u)
			tt.change(c, u)
			_, _, err := c.m.Refresh(t.Context(), is.Refresh)
			wantErr(t, "Refresh", err, tt.want)
		})
	}
	c := newCore(t)
	ghost := store.User{ID: "no-such-user", IsActive: true}
	is := c.start(t, ghost)
	_, _, err := c.m.Refresh(t.Context(), is.Refresh)
	wantErr(t, "unknown user", err, session.ErrInvalid)
	_, _, err = c.m.Authenticate(t.Context(), is.Access)
	wantErr(t, "unknown user", err, session.ErrInvalid)
}

// TestRefreshConcurrentOneSuccessor races many refreshes of one token:
// every one within the grace gets the same successor.
func TestRefreshConcurrentOneSuccessor(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	const n = 32
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			is, _, err := c.m.Refresh(context.Background(), first.Refresh)
			got[i], errs[i] = is.Refresh, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("refresh %d: got error %v, same successor %t; want the one successor", i, errs[i], got[i] == got[0])
		}
	}
}

func TestEnd(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	other := c.user(t, "b@example.com")
	is := c.start(t, u)
	second := c.start(t, u) // another login of the same user
	foreign := c.start(t, other)
	_, claims, err := c.m.Authenticate(t.Context(), is.Access)
	if err != nil {
		t.Fatal(err)
	}
	// The refresh cookie of another login of the same user ends that login
	// too; another user's is ignored.
	if err := c.m.End(t.Context(), claims, second.Refresh); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.m.Authenticate(t.Context(), is.Access)
	wantErr(t, "access token after logout", err, session.ErrEnded)
	_, _, err = c.m.Refresh(t.Context(), is.Refresh)
	wantErr(t, "refresh token after logout", err, session.ErrRevoked)
	_, _, err = c.m.Refresh(t.Context(), second.Refresh)
	wantErr(t, "the other login's refresh token", err, session.ErrRevoked)
	if err := c.m.End(t.Context(), claims, foreign.Refresh); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.m.Refresh(t.Context(), foreign.Refresh); err != nil {
		t.Fatalf("another user's refresh token after a logout naming it: got %v, want it alive", err)
	}
}

func TestEndedSessionsUnchecked(t *testing.T) {
	c := newCore(t, func(cfg *session.Config) { cfg.CheckEnded = false })
	u := c.user(t, "a@example.com")
	is := c.start(t, u)
	_, claims, _ := c.m.Authenticate(t.Context(), is.Access)
	if err := c.m.End(t.Context(), claims, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.m.Authenticate(t.Context(), is.Access); err != nil {
		t.Fatalf("without CheckEnded: got %v, want the access token valid until it expires", err)
	}
	_, _, err := c.m.Refresh(t.Context(), is.Refresh)
	wantErr(t, "refresh after logout", err, session.ErrRevoked)
}

func TestPendingLogin(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	token, err := c.m.StartPending(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.m.ClaimPending(t.Context(), token)
	if err != nil || p.UserID != u.ID || p.TokenVersion != u.TokenVersion {
		t.Fatalf("ClaimPending: got %+v, %v; want the user's login", p, err)
	}
	_, err = c.m.ClaimPending(t.Context(), token)
	wantErr(t, "a second claim while the first is held", err, session.ErrPendingBusy)
	p.Release()
	p, err = c.m.ClaimPending(t.Context(), token)
	if err != nil {
		t.Fatalf("claim after release: got %v", err)
	}
	if err := p.Complete(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.Release()
	_, err = c.m.ClaimPending(t.Context(), token)
	wantErr(t, "a used login", err, session.ErrPendingGone)
}

func TestPendingLoginDiesAfterMaxAttempts(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	token, _ := c.m.StartPending(t.Context(), u)
	for i := 1; i <= session.MaxCodeAttempts; i++ {
		p, err := c.m.ClaimPending(t.Context(), token)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		destroyed, err := p.Fail(t.Context())
		p.Release()
		if err != nil || destroyed != (i == session.MaxCodeAttempts) {
			t.Fatalf("wrong code %d: got destroyed %t, %v; want %t", i, destroyed, err, i == session.MaxCodeAttempts)
		}
	}
	_, err := c.m.ClaimPending(t.Context(), token)
	wantErr(t, "after the last attempt", err, session.ErrPendingGone)
}

func TestPendingLoginRefused(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	token, _ := c.m.StartPending(t.Context(), u)
	_, err := c.m.ClaimPending(t.Context(), strings.Repeat("x", 65))
	wantErr(t, "an overlong token", err, session.ErrPendingGone)
	_, err = c.m.ClaimPending(t.Context(), "made-up")
	wantErr(t, "a made-up token", err, session.ErrPendingGone)
	c.clock.Advance(5*time.Minute + time.Second)
	_, err = c.m.ClaimPending(t.Context(), token)
	wantErr(t, "an expired login", err, session.ErrPendingGone)
}

// TestPendingLoginEviction opens one login more than MaxPendingLogins: the
// oldest dies, the others live.
func TestPendingLoginEviction(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	var toks []string
	for range session.MaxPendingLogins + 1 {
		tok, err := c.m.StartPending(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	_, err := c.m.ClaimPending(t.Context(), toks[0])
	wantErr(t, "the oldest login", err, session.ErrPendingGone)
	for i, tok := range toks[1:] {
		p, err := c.m.ClaimPending(t.Context(), tok)
		if err != nil {
			t.Fatalf("login %d: got %v, want it alive", i+1, err)
		}
		p.Release()
	}
}

// TestKeysHideTokens checks that the keys of secret tokens carry their
// hash, never the token, and that every key lies under the prefix.
func TestKeysHideTokens(t *testing.T) {
	k := session.NewKeys("p:")
	secret := "SECRET-TOKEN-VALUE"
	for _, key := range []string{
		k.PendingLogin(secret), k.EmailChange(secret), k.Denied("j"), k.Ended("s"), k.Rotated("j"),
		k.PendingSeq("u"), k.PendingIndex("u", 3), k.RateLimits(),
	} {
		if !strings.HasPrefix(key, "p:") || strings.Contains(key, secret) {
			t.Errorf("key %q: want it under p: and without the token", key)
		}
	}
	if k.PendingLogin(secret) == k.EmailChange(secret) {
		t.Error("a pending login and an email change of one token share a key")
	}
}

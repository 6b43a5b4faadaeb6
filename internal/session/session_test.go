package session_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/internal/authcache"
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
		Users: st, Pending: st, Sessions: st, Tokens: tm, Keys: session.NewKeys("t:"), Now: clock.Now,
		ReuseGrace: 10 * time.Second, AbsoluteTTL: 30 * 24 * time.Hour, CheckEnded: true,
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
	is, err := c.m.Start(t.Context(), u, firefox, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// firefox is the client of most tests.
var firefox = session.Client{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}

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
		}, session.ErrEnded},
		{"past the absolute end", func(c *core, u store.User) { c.clock.Advance(30*24*time.Hour + time.Second) }, tokens.ErrExpired},
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
	next, got, err := c.m.Refresh(t.Context(), first.Refresh, firefox)
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
	again, _, err := c.m.Refresh(t.Context(), first.Refresh, firefox)
	if err != nil || again.Refresh != next.Refresh {
		t.Fatalf("reuse within the grace: got %v, a different successor %t; want the same successor", err, again.Refresh != next.Refresh)
	}
}

func TestRefreshReuseAfterGraceEndsTheSession(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	next, _, err := c.m.Refresh(t.Context(), first.Refresh, firefox)
	if err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(11 * time.Second)
	_, got, err := c.m.Refresh(t.Context(), first.Refresh, firefox)
	wantErr(t, "replay", err, session.ErrReused)
	if got.ID != u.ID {
		t.Errorf("replay: got user %q, want %q for the event", got.ID, u.ID)
	}
	_, _, err = c.m.Refresh(t.Context(), next.Refresh, firefox)
	wantErr(t, "successor after a replay", err, session.ErrRevoked)
	_, _, err = c.m.Authenticate(t.Context(), next.Access)
	wantErr(t, "access token after a replay", err, session.ErrEnded)
}

func TestRefreshWithoutGrace(t *testing.T) {
	c := newCore(t, func(cfg *session.Config) { cfg.ReuseGrace = 0 })
	u := c.user(t, "a@example.com")
	first := c.start(t, u)
	if _, _, err := c.m.Refresh(t.Context(), first.Refresh, firefox); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.m.Refresh(t.Context(), first.Refresh, firefox)
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
			_, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
			wantErr(t, "Refresh", err, tt.want)
		})
	}
	c := newCore(t)
	ghost := store.User{ID: "no-such-user", IsActive: true}
	is := c.start(t, ghost)
	_, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
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
			is, _, err := c.m.Refresh(context.Background(), first.Refresh, firefox)
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
	is := c.start(t, u)
	second := c.start(t, u) // another login of the same user
	third := c.start(t, u)
	// The access token and a refresh cookie of another login end both.
	if got, err := c.m.End(t.Context(), is.Access, second.Refresh); err != nil || got != u.ID {
		t.Fatalf("End: got %q, %v; want the user", got, err)
	}
	_, _, err := c.m.Authenticate(t.Context(), is.Access)
	wantErr(t, "access token after logout", err, session.ErrEnded)
	_, _, err = c.m.Refresh(t.Context(), is.Refresh, firefox)
	wantErr(t, "refresh token after logout", err, session.ErrRevoked)
	_, _, err = c.m.Refresh(t.Context(), second.Refresh, firefox)
	wantErr(t, "the other login's refresh token", err, session.ErrRevoked)
	// The refresh token alone (the access cookie expired) ends its session.
	c.clock.Advance(time.Hour)
	if got, err := c.m.End(t.Context(), third.Access, third.Refresh); err != nil || got != u.ID {
		t.Fatalf("End with an expired access token: got %q, %v; want the user", got, err)
	}
	_, _, err = c.m.Refresh(t.Context(), third.Refresh, firefox)
	wantErr(t, "refresh after a logout by refresh token", err, session.ErrRevoked)
	// No valid token: nothing to end, no error.
	if got, err := c.m.End(t.Context(), "garbage", ""); err != nil || got != "" {
		t.Fatalf("End with no valid token: got %q, %v; want nothing", got, err)
	}
	if live, _ := c.m.List(t.Context(), u.ID); len(live) != 0 {
		t.Errorf("got %d live sessions, want 0", len(live))
	}
}

func TestListAndRevoke(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	other := c.user(t, "b@example.com")
	a := c.start(t, u)
	c.clock.Advance(time.Minute)
	b := c.start(t, u)
	c.clock.Advance(time.Minute)
	cur := c.start(t, u)
	foreign := c.start(t, other)
	live, err := c.m.List(t.Context(), u.ID)
	if err != nil || len(live) != 3 || live[0].ID != cur.SessionID || live[2].ID != a.SessionID {
		t.Fatalf("List: got %d sessions (%v), want 3 newest first", len(live), err)
	}
	if live[0].Label != "Firefox on Linux" || live[0].LastIP != "192.0.2.1" {
		t.Errorf("got label %q, IP %q; want Firefox on Linux, 192.0.2.1", live[0].Label, live[0].LastIP)
	}
	err = c.m.Revoke(t.Context(), u.ID, foreign.SessionID)
	wantErr(t, "revoking another user's session", err, store.ErrNotFound)
	err = c.m.Revoke(t.Context(), u.ID, "no-such-session")
	wantErr(t, "revoking an unknown session", err, store.ErrNotFound)
	if err := c.m.Revoke(t.Context(), u.ID, b.SessionID); err != nil {
		t.Fatal(err)
	}
	err = c.m.Revoke(t.Context(), u.ID, b.SessionID)
	wantErr(t, "revoking it twice", err, store.ErrNotFound)
	_, _, err = c.m.Authenticate(t.Context(), b.Access)
	wantErr(t, "a revoked session's access token", err, session.ErrEnded)
	n, err := c.m.RevokeAll(t.Context(), u.ID, cur.SessionID, session.ReasonRevoked)
	if err != nil || n != 1 {
		t.Fatalf("RevokeAll: got %d, %v; want 1 (the only other live one)", n, err)
	}
	if _, _, err := c.m.Authenticate(t.Context(), cur.Access); err != nil {
		t.Fatalf("the kept session: got %v", err)
	}
	if _, _, err := c.m.Authenticate(t.Context(), foreign.Access); err != nil {
		t.Fatalf("another user's session: got %v", err)
	}
}

// TestAbsoluteLifetime refreshes a session every six days: refresh tokens
// never outlive the absolute end, and past it the session is over.
func TestAbsoluteLifetime(t *testing.T) {
	c := newCore(t)
	u := c.user(t, "a@example.com")
	start := c.clock.Now()
	is := c.start(t, u)
	for c.clock.Now().Sub(start) < 25*24*time.Hour {
		c.clock.Advance(5 * 24 * time.Hour)
		next, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
		if err != nil {
			t.Fatalf("refresh on day %v: %v", c.clock.Now().Sub(start), err)
		}
		if end := start.Add(30 * 24 * time.Hour); next.RefreshExpires.After(end) {
			t.Fatalf("got a refresh token expiring %v, after the session's end %v", next.RefreshExpires, end)
		}
		is = next
	}
	c.clock.Advance(5*24*time.Hour + time.Second)
	_, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
	if !errors.Is(err, session.ErrRevoked) && !errors.Is(err, tokens.ErrExpired) {
		t.Fatalf("refresh past the absolute end: got %v, want refused", err)
	}
}

// keyCounter is a PendingStore that counts the distinct keys written.
type keyCounter struct {
	store.PendingStore
	mu   sync.Mutex
	keys map[string]bool
}

func (k *keyCounter) note(key string) {
	k.mu.Lock()
	k.keys[key] = true
	k.mu.Unlock()
}

func (k *keyCounter) PutPending(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	k.note(key)
	return k.PendingStore.PutPending(ctx, key, v, ttl)
}

func (k *keyCounter) AddPendingIfAbsent(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	k.note(key)
	return k.PendingStore.AddPendingIfAbsent(ctx, key, v, ttl)
}

func (k *keyCounter) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	k.note(key)
	return k.PendingStore.IncrPending(ctx, key, ttl)
}

// TestRefreshStorageIsConstant refreshes one session 10,000 times: no key
// is written to the pending store and the session stays one record.
func TestRefreshStorageIsConstant(t *testing.T) {
	counter := &keyCounter{keys: map[string]bool{}}
	c := newCore(t, func(cfg *session.Config) {
		counter.PendingStore = cfg.Pending
		cfg.Pending = counter
	})
	u := c.user(t, "a@example.com")
	is := c.start(t, u)
	for i := range 10_000 {
		c.clock.Advance(time.Second)
		next, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		is = next
	}
	all, err := c.store.SessionsByUser(t.Context(), u.ID)
	if err != nil || len(all) != 1 {
		t.Fatalf("got %d session records (%v), want 1", len(all), err)
	}
	if len(counter.keys) != 0 {
		t.Errorf("got %d pending keys written by refreshes, want 0", len(counter.keys))
	}
}

func TestLabel(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0":               "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome on Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                      "Chrome on macOS",
		"curl/8.5.0": "curl on Unknown system",
		"":           "Unknown browser on Unknown system",
	} {
		if got := session.Label(ua); got != want {
			t.Errorf("Label(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestEndedSessionsUnchecked(t *testing.T) {
	c := newCore(t, func(cfg *session.Config) { cfg.CheckEnded = false })
	u := c.user(t, "a@example.com")
	is := c.start(t, u)
	if _, err := c.m.End(t.Context(), is.Access, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.m.Authenticate(t.Context(), is.Access); err != nil {
		t.Fatalf("without CheckEnded: got %v, want the access token valid until it expires", err)
	}
	_, _, err := c.m.Refresh(t.Context(), is.Refresh, firefox)
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
		k.PendingLogin(secret), k.EmailChange(secret),
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

// lostReply is a session store whose next revocation is written and then
// reported failed, as a Redis call that timed out after the server ran it.
type lostReply struct {
	*memory.Store
	fail bool
}

func (s *lostReply) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	sess, ok, err := s.Store.RevokeSession(ctx, id, at, reason)
	if s.fail {
		s.fail = false
		return store.Session{}, false, errors.New("i/o timeout")
	}
	return sess, ok, err
}

func (s *lostReply) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	n, err := s.Store.RevokeUserSessions(ctx, userID, except, at, reason)
	if s.fail {
		s.fail = false
		return 0, errors.New("i/o timeout")
	}
	return n, err
}

// TestRevocationWithALostReplyIsAnnounced: a revocation whose answer is
// lost may have been written, so it is announced anyway, and so is its
// retry, which finds it done; another instance's cache drops the session.
func TestRevocationWithALostReplyIsAnnounced(t *testing.T) {
	for _, how := range []string{"logout", "revoke-others"} {
		t.Run(how, func(t *testing.T) {
			channel := memory.New() // another store than the data's: only announcements reach B
			var data *lostReply
			a := newCore(t, func(c *session.Config) {
				data = &lostReply{Store: c.Sessions.(*memory.Store)}
				c.Users, c.Sessions = data, data
				c.Cache = authcache.New(100, time.Minute, c.Now)
				c.Notifier = channel
			})
			cacheB := authcache.New(100, time.Minute, a.clock.Now)
			up := make(chan bool, 4)
			if err := channel.SubscribeChanges(t.Context(), cacheB.Invalidate, func(ok bool) { cacheB.SetReady(ok); up <- ok }); err != nil {
				t.Fatal(err)
			}
			<-up
			b := newCore(t, func(c *session.Config) {
				c.Users, c.Sessions, c.Now = data, data, a.clock.Now
				c.Cache, c.Notifier = cacheB, channel
			})
			u := a.user(t, "ann@example.com")
			victim := a.start(t, u)
			other := a.start(t, u)
			if _, _, err := b.m.Authenticate(t.Context(), victim.Access); err != nil { // cached on B
				t.Fatal(err)
			}
			data.fail = true
			switch how {
			case "logout":
				if _, err := a.m.End(t.Context(), victim.Access, ""); err == nil {
					t.Fatal("want the lost reply")
				}
				if _, err := a.m.End(t.Context(), victim.Access, ""); err != nil { // the client retries
					t.Fatal(err)
				}
			case "revoke-others":
				if _, err := a.m.RevokeAll(t.Context(), u.ID, other.SessionID, session.ReasonRevoked); err == nil {
					t.Fatal("want the lost reply")
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, _, ok := b.m.AuthenticateCached(victim.Access); !ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the session is revoked in the store, yet B's cache still accepts its token", how)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if _, _, err := b.m.Authenticate(t.Context(), victim.Access); !errors.Is(err, session.ErrEnded) {
				t.Fatalf("%s: B: got %v, want ErrEnded", how, err)
			}
		})
	}
}

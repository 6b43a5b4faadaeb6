package authcache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/internal/authcache"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/storetest"
	"github.com/authsys-go/authsys/tokens"
)

func newCache(t *testing.T, size int) (*authcache.Cache, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock()
	c := authcache.New(size, time.Minute, clock.Now)
	c.SetReady(true)
	return c, clock
}

func TestServesOnlyWhenReady(t *testing.T) {
	clock := storetest.NewClock()
	c := authcache.New(10, time.Minute, clock.Now)
	c.PutUser(c.Ticket(), store.User{ID: "u1"})
	if _, ok := c.User("u1"); ok {
		t.Fatal("a cache never ready served a user")
	}
	c.SetReady(true)
	c.PutUser(c.Ticket(), store.User{ID: "u1"})
	c.PutSession(c.Ticket(), store.Session{ID: "s1", UserID: "u1"})
	if _, ok := c.User("u1"); !ok {
		t.Fatal("a ready cache did not serve the user it was given")
	}
	c.SetReady(false)
	if _, ok := c.User("u1"); ok {
		t.Fatal("served a user while the channel is down")
	}
	c.SetReady(true)
	if _, ok := c.User("u1"); ok {
		t.Fatal("served a user cached before the channel went down")
	}
	if _, ok := c.Session("s1"); ok {
		t.Fatal("served a session cached before the channel went down")
	}
}

// TestFillRacingAnInvalidation is the pitfall of a cache fill racing an
// invalidation: the fill read the user before the change, the
// invalidation arrived, then the stale read is put. It must not be kept.
func TestFillRacingAnInvalidation(t *testing.T) {
	c, _ := newCache(t, 10)
	stale := store.User{ID: "u1", TokenVersion: 1}
	ticket := c.Ticket() // before the store read
	c.Invalidate(store.Change{Kind: store.ChangeUser, ID: "u1"})
	c.PutUser(ticket, stale)
	if u, ok := c.User("u1"); ok {
		t.Fatalf("kept a fill that raced an invalidation: %+v", u)
	}
	ticket = c.Ticket()
	c.Invalidate(store.Change{Kind: store.ChangeSession, ID: "s1"})
	c.PutSession(ticket, store.Session{ID: "s1", UserID: "u1"})
	if _, ok := c.Session("s1"); ok {
		t.Fatal("kept a session fill that raced an invalidation")
	}
	ticket = c.Ticket()
	c.SetReady(false)
	c.SetReady(true)
	c.PutUser(ticket, stale)
	if _, ok := c.User("u1"); ok {
		t.Fatal("kept a fill that raced a reconnect")
	}
}

func TestInvalidate(t *testing.T) {
	c, _ := newCache(t, 10)
	c.PutUser(c.Ticket(), store.User{ID: "u1"})
	c.PutUser(c.Ticket(), store.User{ID: "u2"})
	c.PutSession(c.Ticket(), store.Session{ID: "s1", UserID: "u1"})
	c.PutSession(c.Ticket(), store.Session{ID: "s2", UserID: "u1"})
	c.PutSession(c.Ticket(), store.Session{ID: "s3", UserID: "u2"})
	c.Invalidate(store.Change{Kind: store.ChangeSession, ID: "s2"})
	if _, ok := c.Session("s2"); ok {
		t.Error("an invalidated session is still served")
	}
	if _, ok := c.Session("s1"); !ok {
		t.Error("invalidating s2 dropped s1")
	}
	// A user's change drops the user and every session of it.
	c.Invalidate(store.Change{Kind: store.ChangeUser, ID: "u1"})
	for _, id := range []string{"s1", "s2"} {
		if _, ok := c.Session(id); ok {
			t.Errorf("session %s of a changed user is still served", id)
		}
	}
	if _, ok := c.User("u1"); ok {
		t.Error("a changed user is still served")
	}
	if _, ok := c.User("u2"); !ok {
		t.Error("another user was dropped")
	}
	if _, ok := c.Session("s3"); !ok {
		t.Error("another user's session was dropped")
	}
	// A kind this version does not know drops everything.
	c.Invalidate(store.Change{Kind: "group", ID: "g"})
	if _, ok := c.User("u2"); ok {
		t.Error("an unknown change kind kept the cache")
	}
}

func TestMaxAge(t *testing.T) {
	c, clock := newCache(t, 10)
	c.PutUser(c.Ticket(), store.User{ID: "u1"})
	clock.Advance(59 * time.Second)
	if _, ok := c.User("u1"); !ok {
		t.Fatal("an entry younger than the maximum age was not served")
	}
	clock.Advance(time.Second)
	if _, ok := c.User("u1"); ok {
		t.Fatal("an entry of the maximum age was served")
	}
}

func TestReturnsCopies(t *testing.T) {
	c, _ := newCache(t, 10)
	c.PutUser(c.Ticket(), store.User{ID: "u1", BackupCodes: []store.BackupCode{{ID: "a"}}})
	u, _ := c.User("u1")
	u.BackupCodes[0].ID = "changed"
	if again, _ := c.User("u1"); again.BackupCodes[0].ID != "a" {
		t.Fatal("a caller's change reached the cached user")
	}
}

func TestBounded(t *testing.T) {
	c, _ := newCache(t, 3)
	for i := range 5 {
		c.PutUser(c.Ticket(), store.User{ID: fmt.Sprint(i)})
		c.PutSession(c.Ticket(), store.Session{ID: fmt.Sprint("s", i), UserID: fmt.Sprint(i)})
		c.PutToken(fmt.Sprint("t", i), tokens.Claims{ExpiresAt: time.Now().Add(time.Hour)})
	}
	n := 0
	for i := range 5 {
		if _, ok := c.User(fmt.Sprint(i)); ok {
			n++
		}
	}
	if n != 3 {
		t.Errorf("got %d users cached, want the bound, 3", n)
	}
	if _, ok := c.User("0"); ok {
		t.Error("the least recently used user was kept")
	}
	if _, ok := c.Session("s4"); !ok {
		t.Error("the newest session was not kept")
	}
}

func TestTokens(t *testing.T) {
	c, clock := newCache(t, 10)
	exp := clock.Now().Add(time.Minute)
	c.PutToken("raw-a", tokens.Claims{Subject: "u1", ExpiresAt: exp})
	if got, ok := c.Token("raw-a"); !ok || got.Subject != "u1" {
		t.Fatalf("got %+v, %t; want the claims", got, ok)
	}
	if _, ok := c.Token("raw-b"); ok {
		t.Fatal("an unknown token was recognised")
	}
	// Tokens do not depend on the channel.
	c.SetReady(false)
	if _, ok := c.Token("raw-a"); !ok {
		t.Fatal("a verified token was forgotten when the channel went down")
	}
	clock.Advance(time.Minute)
	if _, ok := c.Token("raw-a"); ok {
		t.Fatal("an expired token was recognised")
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _ := newCache(t, 50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprint(i % 20)
				tk := c.Ticket()
				c.PutUser(tk, store.User{ID: id})
				c.PutSession(tk, store.Session{ID: "s" + id, UserID: id})
				c.User(id)
				c.Session("s" + id)
				if (i+g)%7 == 0 {
					c.Invalidate(store.Change{Kind: store.ChangeUser, ID: id})
				}
				if i%97 == 0 {
					c.SetReady(true)
				}
			}
		})
	}
	wg.Wait()
}

// TestUnrelatedInvalidationKeepsFills: an invalidation of another user or
// session does not drop a fill in progress, so the cache fills under a
// steady stream of changes.
func TestUnrelatedInvalidationKeepsFills(t *testing.T) {
	c, _ := newCache(t, 10)
	ticket := c.Ticket()
	c.Invalidate(store.Change{Kind: store.ChangeSession, ID: "someone-elses"})
	c.Invalidate(store.Change{Kind: store.ChangeUser, ID: "u2"})
	c.PutUser(ticket, store.User{ID: "u1"})
	c.PutSession(ticket, store.Session{ID: "s1", UserID: "u1"})
	if _, ok := c.User("u1"); !ok {
		t.Error("an unrelated invalidation dropped a user's fill")
	}
	if _, ok := c.Session("s1"); !ok {
		t.Error("an unrelated invalidation dropped a session's fill")
	}
	// The session's user changed while it was read: dropped.
	ticket = c.Ticket()
	c.Invalidate(store.Change{Kind: store.ChangeUser, ID: "u9"})
	c.PutSession(ticket, store.Session{ID: "s9", UserID: "u9"})
	if _, ok := c.Session("s9"); ok {
		t.Error("kept a session fill whose user changed meanwhile")
	}
	// Too many invalidations to tell: dropped.
	ticket = c.Ticket()
	for i := range 5000 {
		c.Invalidate(store.Change{Kind: store.ChangeUser, ID: fmt.Sprint("x", i)})
	}
	c.PutUser(ticket, store.User{ID: "u1-again"})
	if _, ok := c.User("u1-again"); ok {
		t.Error("kept a fill older than the invalidations remembered")
	}
}

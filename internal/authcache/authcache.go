// Package authcache is the per-instance cache of what authentication
// needs: users and session records by ID, and access tokens already
// verified. It lets an authenticated request touch no store in steady
// state, and stays honest through invalidations: every change to a user or
// a session, on any instance, reaches Invalidate through the application's
// change channel (store.ChangeNotifier).
//
// Users and sessions are served only while the channel is known to be up
// (SetReady(true)); going down or coming back empties them, since changes
// may have been missed. A fill that raced an invalidation is not kept: a
// ticket taken before the store read must still be current when the value
// is put. Entries also expire after a maximum age, which bounds what a
// change the channel never announced (a write outside the library) can
// cost. Verified tokens depend on no stored state and are kept until they
// expire.
package authcache

import (
	"container/list"
	"crypto/sha256"
	"hash/fnv"
	"sync"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// Cache is safe for concurrent use. The zero value is not usable; call New.
type Cache struct {
	now    func() time.Time
	maxAge time.Duration

	mu sync.Mutex
	// ready: users and sessions may be served.
	ready bool
	// seq counts invalidations; a ticket is its value before a store read.
	// recent holds the hash of the ID each of the last len(recent)
	// invalidations named, at seq%len; allSeq is the last one that named
	// everything (SetReady, an unknown kind). A fill is dropped when an
	// invalidation since its ticket named its ID (or its user's), or
	// everything, or fell out of recent: only what may be stale is lost.
	seq      uint64
	recent   [4096]uint64
	allSeq   uint64
	users    *lru[string, userEntry]
	sessions *lru[string, sessionEntry]
	// byUser indexes the cached sessions of each user, so that a user's
	// change drops them too.
	byUser map[string]map[string]struct{}
	tokens *lru[[32]byte, tokens.Claims]
}

type userEntry struct {
	u  store.User
	at time.Time
}

type sessionEntry struct {
	s  store.Session
	at time.Time
}

// New returns a cache of at most size users, size sessions and size
// tokens, whose users and sessions serve for at most maxAge. It serves no
// user or session until SetReady(true).
func New(size int, maxAge time.Duration, now func() time.Time) *Cache {
	return &Cache{
		now: now, maxAge: maxAge,
		users: newLRU[string, userEntry](size), sessions: newLRU[string, sessionEntry](size),
		tokens: newLRU[[32]byte, tokens.Claims](size), byUser: map[string]map[string]struct{}{},
	}
}

// Ticket is the state of the cache before a store read, for Put*.
type Ticket uint64

// Ticket returns the current ticket: take it before reading a store.
func (c *Cache) Ticket() Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket(c.seq)
}

// SetReady says whether the change channel is up. Either way the cached
// users and sessions are dropped: going down, because changes may now be
// missed; coming up, because they may have been.
func (c *Cache) SetReady(ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.allSeq = c.seq
	c.ready = ready
	c.users.clear()
	c.sessions.clear()
	clear(c.byUser)
}

// Invalidate drops what ch names: a user and every cached session of it,
// or a session.
func (c *Cache) Invalidate(ch store.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.recent[c.seq%uint64(len(c.recent))] = idHash(ch.ID)
	switch ch.Kind {
	case store.ChangeSession:
		if e, ok := c.sessions.get(ch.ID); ok {
			c.dropSession(ch.ID, e.s.UserID)
		}
	default: // a user, or a kind this version does not know: drop more, never less
		c.users.remove(ch.ID)
		for sid := range c.byUser[ch.ID] {
			c.sessions.remove(sid)
		}
		delete(c.byUser, ch.ID)
		if ch.Kind != store.ChangeUser {
			c.allSeq = c.seq
			c.users.clear()
			c.sessions.clear()
			clear(c.byUser)
		}
	}
}

func (c *Cache) dropSession(sid, userID string) {
	c.sessions.remove(sid)
	if set := c.byUser[userID]; set != nil {
		delete(set, sid)
		if len(set) == 0 {
			delete(c.byUser, userID)
		}
	}
}

// fresh reports whether an entry stored at at may still serve.
func (c *Cache) fresh(at time.Time) bool {
	return c.ready && c.now().Sub(at) < c.maxAge
}

// User returns a copy of the cached user id.
func (c *Cache) User(id string) (store.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users.get(id)
	if !ok || !c.fresh(e.at) {
		return store.User{}, false
	}
	return e.u.Clone(), true
}

// PutUser caches u, read from the store after t was taken, unless an
// invalidation came in between.
func (c *Cache) PutUser(t Ticket, u store.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready || c.changedSince(t, u.ID, "") {
		return
	}
	c.users.put(u.ID, userEntry{u: u.Clone(), at: c.now()})
}

// changedSince reports whether an invalidation since t may concern id or
// also (when not empty): one named it (by hash; a collision only drops a
// fill), named everything, or is too old to tell.
func (c *Cache) changedSince(t Ticket, id, also string) bool {
	since := uint64(t)
	if c.allSeq > since || c.seq-since > uint64(len(c.recent)) {
		return true
	}
	h, h2 := idHash(id), idHash(also)
	for i := since + 1; i <= c.seq; i++ {
		if x := c.recent[i%uint64(len(c.recent))]; x == h || (also != "" && x == h2) {
			return true
		}
	}
	return false
}

// idHash is the FNV-1a hash of id.
func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Session returns the cached session record id.
func (c *Cache) Session(id string) (store.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sessions.get(id)
	if !ok || !c.fresh(e.at) {
		return store.Session{}, false
	}
	return e.s, true
}

// PutSession caches s, read from the store after t was taken, unless an
// invalidation came in between.
func (c *Cache) PutSession(t Ticket, s store.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready || c.changedSince(t, s.ID, s.UserID) {
		return
	}
	if evicted, ok := c.sessions.put(s.ID, sessionEntry{s: s, at: c.now()}); ok {
		c.dropIndex(evicted.s.ID, evicted.s.UserID)
	}
	set := c.byUser[s.UserID]
	if set == nil {
		set = map[string]struct{}{}
		c.byUser[s.UserID] = set
	}
	set[s.ID] = struct{}{}
}

func (c *Cache) dropIndex(sid, userID string) {
	if set := c.byUser[userID]; set != nil {
		delete(set, sid)
		if len(set) == 0 {
			delete(c.byUser, userID)
		}
	}
}

// Token returns the claims of the access token raw if it was verified
// before and has not expired.
func (c *Cache) Token(raw string) (tokens.Claims, bool) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.tokens.get(k)
	if !ok || !c.now().Before(cl.ExpiresAt) {
		return tokens.Claims{}, false
	}
	return cl, true
}

// PutToken records that raw verified to claims.
func (c *Cache) PutToken(raw string, claims tokens.Claims) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens.put(k, claims)
}

// lru is a map bounded to size entries that evicts the least recently
// used. Not safe for concurrent use; Cache locks around it.
type lru[K comparable, V any] struct {
	size  int
	order *list.List // front: most recent; elements hold *item[K, V]
	items map[K]*list.Element
}

type item[K comparable, V any] struct {
	k K
	v V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{size: size, order: list.New(), items: map[K]*list.Element{}}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	el, ok := l.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.order.MoveToFront(el)
	return el.Value.(*item[K, V]).v, true
}

// put stores v under k and returns the value it evicted, if any.
func (l *lru[K, V]) put(k K, v V) (V, bool) {
	var zero V
	if l.size <= 0 {
		return zero, false
	}
	if el, ok := l.items[k]; ok {
		el.Value.(*item[K, V]).v = v
		l.order.MoveToFront(el)
		return zero, false
	}
	l.items[k] = l.order.PushFront(&item[K, V]{k: k, v: v})
	if l.order.Len() <= l.size {
		return zero, false
	}
	last := l.order.Back()
	l.order.Remove(last)
	it := last.Value.(*item[K, V])
	delete(l.items, it.k)
	return it.v, true
}

func (l *lru[K, V]) remove(k K) {
	if el, ok := l.items[k]; ok {
		l.order.Remove(el)
		delete(l.items, k)
	}
}

func (l *lru[K, V]) clear() {
	l.order.Init()
	clear(l.items)
}

package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authsys-go/authsys/store"
)

var (
	_ store.UserStore    = (*Store)(nil)
	_ store.UserLister   = (*Store)(nil)
	_ store.PendingStore = (*Store)(nil)
	_ store.RateStore    = (*Store)(nil)
	_ store.SessionStore = (*Store)(nil)
	_ store.PasskeyStore = (*Store)(nil)
)

// minSweep is the least number of pending writes between two full sweeps
// of expired entries.
const minSweep = 64

// Store keeps users, pending entries, sessions and passkeys in memory. Create it with New; the
// zero value is not usable. All methods are safe for concurrent use, and
// each first checks its context: one that has ended gives an error
// wrapping store.ErrUnavailable and the context's error.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	users   map[string]store.User // by ID
	byEmail map[string]string     // lower-cased email → ID
	pending map[string]entry
	// sessions holds the session records by ID, and userSessions the IDs
	// of each user's.
	sessions     map[string]store.Session
	userSessions map[string]map[string]struct{}
	// passkeys holds the passkeys by ID, and byCredential the ID of each
	// by its credential ID (as a string).
	passkeys     map[string]store.Passkey
	byCredential map[string]string
	// writes counts pending writes since the last sweep.
	writes int
	// sweepAt is the number of writes that triggers the next sweep.
	sweepAt int

	// changes is the store.ChangeNotifier (changes.go), with a lock of
	// its own.
	changes changeHub
}

// entry is one pending value and the instant it expires.
type entry struct {
	value   []byte
	expires time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the Store read the current time from now instead of
// time.Now. Tests use it to expire pending entries without sleeping. now
// must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty Store configured by opts.
func New(opts ...Option) *Store {
	s := &Store{
		now:     time.Now,
		users:   make(map[string]store.User),
		byEmail: make(map[string]string),
		pending: make(map[string]entry),
		sweepAt: minSweep,

		sessions:     make(map[string]store.Session),
		userSessions: make(map[string]map[string]struct{}),

		passkeys:     make(map[string]store.Passkey),
		byCredential: make(map[string]string),

		changes: changeHub{limit: DefaultChangeBuffer, subs: make(map[*changeSub]struct{})},
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// emailKey returns the key under which an email is unique.
func emailKey(email string) string {
	return strings.ToLower(email)
}

// newID returns a random 128-bit identifier in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error.
	return hex.EncodeToString(b[:])
}

// ended returns an error wrapping store.ErrUnavailable and ctx's error
// when ctx has ended, and nil otherwise. Every method checks it first, so
// that a memory store honours deadlines as the interfaces require.
func ended(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return nil
}

// CreateUser stores a copy of u and returns it, with a random 128-bit hex
// ID assigned when u.ID is empty. It returns store.ErrEmailTaken when
// another user has the email (compared case-insensitively), and an error
// when u.ID is already in use.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if err := ended(ctx, "CreateUser"); err != nil {
		return store.User{}, err
	}
	u = u.Clone()
	key := emailKey(u.Email)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.byEmail[key]; taken {
		return store.User{}, store.ErrEmailTaken
	}
	if u.ID == "" {
		u.ID = newID()
		for s.hasID(u.ID) {
			u.ID = newID()
		}
	} else if s.hasID(u.ID) {
		return store.User{}, fmt.Errorf("memory: user ID %q already exists", u.ID)
	}
	s.users[u.ID] = u
	s.byEmail[key] = u.ID
	return u.Clone(), nil
}

// hasID reports whether a user has the ID. The caller holds s.mu.
func (s *Store) hasID(id string) bool {
	_, ok := s.users[id]
	return ok
}

// UserByID returns a copy of the user with the given ID, or
// store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	if err := ended(ctx, "UserByID"); err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u.Clone(), nil
}

// UserByEmail returns a copy of the user with the given email, compared
// case-insensitively, or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if err := ended(ctx, "UserByEmail"); err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byEmail[emailKey(email)]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return s.users[id].Clone(), nil
}

// UpdateUser calls fn with a copy of the user under the Store's lock and,
// if fn returns nil, stores the modified copy and returns it. fn runs
// exactly once and must not call the Store. It returns fn's error
// unchanged, store.ErrNotFound for an unknown id, store.ErrEmailTaken when
// fn changes Email to another user's, and an error when fn changes ID; in
// every error case nothing is written.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if err := ended(ctx, "UpdateUser"); err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	u := old.Clone()
	if err := fn(&u); err != nil {
		return store.User{}, err
	}
	if u.ID != id {
		return store.User{}, fmt.Errorf("memory: UpdateUser: fn changed ID %q to %q", id, u.ID)
	}
	oldKey, newKey := emailKey(old.Email), emailKey(u.Email)
	if newKey != oldKey {
		if _, taken := s.byEmail[newKey]; taken {
			return store.User{}, store.ErrEmailTaken
		}
		delete(s.byEmail, oldKey)
		s.byEmail[newKey] = id
	}
	s.users[id] = u.Clone()
	s.announce(store.Change{Kind: store.ChangeUser, ID: id})
	return u, nil
}

// ListUsers returns copies of up to limit users whose email starts with
// emailPrefix (case-insensitively; "" matches all), ordered by email,
// starting strictly after the email after ("" = from the beginning). A
// limit below one returns no users. Each call sorts the matching users,
// which is fine for the user counts a memory store holds.
func (s *Store) ListUsers(ctx context.Context, emailPrefix, after string, limit int) ([]store.User, error) {
	if err := ended(ctx, "ListUsers"); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, nil
	}
	prefix, after := emailKey(emailPrefix), emailKey(after)
	s.mu.Lock()
	var keys []string
	for key := range s.byEmail {
		if strings.HasPrefix(key, prefix) && key > after {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	keys = keys[:min(limit, len(keys))]
	users := make([]store.User, len(keys))
	for i, key := range keys {
		users[i] = s.users[s.byEmail[key]].Clone()
	}
	s.mu.Unlock()
	return users, nil
}

// errTTL reports a non-positive time to live.
func errTTL(method string, ttl time.Duration) error {
	return fmt.Errorf("memory: %s: ttl %v is not positive", method, ttl)
}

// live returns the unexpired entry under key. It deletes an expired one.
// The caller holds s.mu.
func (s *Store) live(key string, now time.Time) (entry, bool) {
	e, ok := s.pending[key]
	if !ok {
		return entry{}, false
	}
	if !now.Before(e.expires) {
		delete(s.pending, key)
		return entry{}, false
	}
	return e, true
}

// set stores e under key and sweeps expired entries once enough writes
// have accumulated: at least as many as the entries left by the last
// sweep, so the cost of sweeping stays constant per write and the map
// holds at most about twice the live entries plus those written since.
// The caller holds s.mu.
func (s *Store) set(key string, e entry, now time.Time) {
	s.pending[key] = e
	s.writes++
	if s.writes < s.sweepAt {
		return
	}
	for k, e := range s.pending {
		if !now.Before(e.expires) {
			delete(s.pending, k)
		}
	}
	s.writes = 0
	s.sweepAt = max(minSweep, len(s.pending))
}

// PutPending stores a copy of value under key for ttl, replacing any value
// and its time to live. It returns an error when ttl is not positive.
func (s *Store) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ended(ctx, "PutPending"); err != nil {
		return err
	}
	if ttl <= 0 {
		return errTTL("PutPending", ttl)
	}
	value = slices.Clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.set(key, entry{value: value, expires: now.Add(ttl)}, now)
	return nil
}

// AddPendingIfAbsent stores a copy of value under key for ttl only if the
// key is absent or expired, and reports whether it did. Of concurrent
// callers on one key exactly one gets true. It returns an error when ttl
// is not positive.
func (s *Store) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := ended(ctx, "AddPendingIfAbsent"); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errTTL("AddPendingIfAbsent", ttl)
	}
	value = slices.Clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, ok := s.live(key, now); ok {
		return false, nil
	}
	s.set(key, entry{value: value, expires: now.Add(ttl)}, now)
	return true, nil
}

// GetPending returns a copy of the value under key, or store.ErrNotFound
// when the key is absent or expired.
func (s *Store) GetPending(ctx context.Context, key string) ([]byte, error) {
	if err := ended(ctx, "GetPending"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(key, s.now())
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte{}, e.value...), nil
}

// TakePending atomically returns and deletes the value under key, or
// returns store.ErrNotFound when the key is absent or expired. Of
// concurrent callers on one key exactly one gets the value.
func (s *Store) TakePending(ctx context.Context, key string) ([]byte, error) {
	if err := ended(ctx, "TakePending"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(key, s.now())
	if !ok {
		return nil, store.ErrNotFound
	}
	delete(s.pending, key)
	return e.value, nil // the entry is gone, so its value is no longer shared
}

// DeletePending removes key. Deleting a missing key is not an error.
func (s *Store) DeletePending(ctx context.Context, key string) error {
	if err := ended(ctx, "DeletePending"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, key)
	return nil
}

// errNotCounter is returned by IncrPending when key holds a value that is
// not a counter.
var errNotCounter = errors.New("memory: IncrPending: value is not a counter")

// IncrPending atomically adds one to the counter under key and returns the
// new count and the counter's remaining time to live. A missing or expired
// counter starts at 1 and lives for ttl; later increments keep its expiry.
// The counter is kept as a decimal string, which GetPending returns. It
// returns an error when ttl is not positive or key holds another value.
func (s *Store) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	if err := ended(ctx, "IncrPending"); err != nil {
		return 0, 0, err
	}
	if ttl <= 0 {
		return 0, 0, errTTL("IncrPending", ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e, ok := s.live(key, now)
	var n int64
	if ok {
		var err error
		if n, err = strconv.ParseInt(string(e.value), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%w: key %q", errNotCounter, key)
		}
	} else {
		e.expires = now.Add(ttl)
	}
	n++
	e.value = strconv.AppendInt(nil, n, 10)
	s.set(key, e, now)
	return n, e.expires.Sub(now), nil
}

// AllowRate checks one event against the GCRA rate limit under key, of
// emission interval interval and burst burst, on the Store's clock (see
// store.RateStore): it allows up to burst events at once, then one every
// interval, and returns false and the exact time until the next event
// would be allowed when the event is refused, which changes nothing. The
// key's entry holds no value and expires at its theoretical arrival time.
// Of concurrent callers on one key exactly as many are allowed as the
// budget holds. It returns an error when interval is not positive, burst
// is below one or burst*interval overflows.
func (s *Store) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	if err := ended(ctx, "AllowRate"); err != nil {
		return false, 0, err
	}
	interval, err := store.RateInterval(interval, burst)
	if err != nil {
		return false, 0, fmt.Errorf("memory: AllowRate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tat := now
	if e, ok := s.live(key, now); ok {
		tat = e.expires
	}
	// The event is allowed when tat+interval-burst*interval <= now, that is
	// when tat is at most (burst-1)*interval ahead of now.
	if ahead, limit := tat.Sub(now), time.Duration(burst-1)*interval; ahead > limit {
		return false, ahead - limit, nil
	}
	s.set(key, entry{expires: tat.Add(interval)}, now)
	return true, 0, nil
}

package authtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/authsys-go/authsys/store"
)

// Call is one call made through a Spy.
type Call struct {
	// Method is the store method called: "CreateUser", "UserByID",
	// "UserByEmail", "UpdateUser", "ListUsers", "PutPending",
	// "AddPendingIfAbsent", "GetPending", "TakePending", "DeletePending",
	// "IncrPending", "AllowRate", or one of the store.SessionStore
	// methods ("CreateSession", "SessionByID", "SessionsByUser",
	// "RotateSession", "RevokeSession", "RevokeUserSessions",
	// "PurgeSessions").
	Method string
	// Key is what the call is about: the email for CreateUser and
	// UserByEmail, the user ID for UserByID and UpdateUser, the email
	// prefix for ListUsers, the key for the PendingStore and RateStore
	// methods, the session ID for CreateSession, SessionByID,
	// RotateSession and RevokeSession, and the user ID for SessionsByUser
	// and RevokeUserSessions.
	Key string
	// Value is the value written by PutPending and AddPendingIfAbsent (a
	// copy).
	Value []byte
	// TTL is the time to live given to PutPending, AddPendingIfAbsent and
	// IncrPending, and the emission interval given to AllowRate.
	TTL time.Duration
	// Update is the function given to UpdateUser. A hook may replace it,
	// e.g. with one that calls it and then fails as a lost commit would;
	// the store then runs the replacement. It is nil in the calls that
	// Calls returns.
	Update func(*store.User) error
	// Err is the error the call returned: the hook's, or the store's. It
	// is always nil while the hook runs.
	Err error
}

// Spy is a store.UserStore and store.PendingStore that passes every call to
// the stores it wraps, records it, and first lets a hook see it, delay it or
// fail it. It also implements the optional capabilities store.UserLister
// (passed to the wrapped UserStore), store.RateStore (to the PendingStore)
// and store.SessionStore and store.ChangeNotifier (each to the UserStore's
// when it has one, else to the PendingStore's, as the library chooses);
// when the wrapped stores lack
// one, its methods return an error wrapping errors.ErrUnsupported, so wrap
// only stores that have the capabilities the Auth is to use (every store of
// this module has them). A Spy is safe for concurrent use.
//
// Install it through a Config mutation:
//
//	var spy *authtest.Spy
//	env := authtest.New(t, func(c *authsys.Config) {
//		spy = authtest.NewSpy(c.Users, c.Pending)
//		c.Users, c.Pending = spy, spy
//	})
type Spy struct {
	users   store.UserStore
	pending store.PendingStore

	mu    sync.Mutex
	hook  func(ctx context.Context, call *Call) error
	calls []Call
}

var (
	_ store.UserStore      = (*Spy)(nil)
	_ store.UserLister     = (*Spy)(nil)
	_ store.PendingStore   = (*Spy)(nil)
	_ store.RateStore      = (*Spy)(nil)
	_ store.SessionStore   = (*Spy)(nil)
	_ store.ChangeNotifier = (*Spy)(nil)
)

// NewSpy returns a Spy over users and pending, either of which may be nil
// when the Spy is used as the other store only.
func NewSpy(users store.UserStore, pending store.PendingStore) *Spy {
	return &Spy{users: users, pending: pending}
}

// SetHook makes hook run before every later call, on the caller's goroutine
// and with its context; nil removes it. A hook may block (a barrier, a
// delay), change call.Update, or return an error, which the call then
// returns without reaching the wrapped store. Calls on several goroutines
// run the hook concurrently, so it must be safe for concurrent use.
func (s *Spy) SetHook(hook func(ctx context.Context, call *Call) error) {
	s.mu.Lock()
	s.hook = hook
	s.mu.Unlock()
}

// Calls returns the calls made so far, oldest first, each recorded when it
// returned.
func (s *Spy) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Reset forgets the calls recorded so far.
func (s *Spy) Reset() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

// before runs the hook on call.
func (s *Spy) before(ctx context.Context, call *Call) error {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook == nil {
		return nil
	}
	return hook(ctx, call)
}

// after records call with its result and returns err.
func (s *Spy) after(call *Call, err error) error {
	c := *call
	c.Update, c.Err = nil, err
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return err
}

// CreateUser records the call and passes it to the wrapped UserStore.
func (s *Spy) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	call := &Call{Method: "CreateUser", Key: u.Email}
	if err := s.before(ctx, call); err != nil {
		return store.User{}, s.after(call, err)
	}
	out, err := s.users.CreateUser(ctx, u)
	return out, s.after(call, err)
}

// UserByID records the call and passes it to the wrapped UserStore.
func (s *Spy) UserByID(ctx context.Context, id string) (store.User, error) {
	call := &Call{Method: "UserByID", Key: id}
	if err := s.before(ctx, call); err != nil {
		return store.User{}, s.after(call, err)
	}
	out, err := s.users.UserByID(ctx, id)
	return out, s.after(call, err)
}

// UserByEmail records the call and passes it to the wrapped UserStore.
func (s *Spy) UserByEmail(ctx context.Context, email string) (store.User, error) {
	call := &Call{Method: "UserByEmail", Key: email}
	if err := s.before(ctx, call); err != nil {
		return store.User{}, s.after(call, err)
	}
	out, err := s.users.UserByEmail(ctx, email)
	return out, s.after(call, err)
}

// UpdateUser records the call and passes it to the wrapped UserStore, with
// the function the hook left in Call.Update.
func (s *Spy) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	call := &Call{Method: "UpdateUser", Key: id, Update: fn}
	if err := s.before(ctx, call); err != nil {
		return store.User{}, s.after(call, err)
	}
	out, err := s.users.UpdateUser(ctx, id, call.Update)
	return out, s.after(call, err)
}

// ListUsers records the call and passes it to the wrapped UserStore, which
// must implement store.UserLister.
func (s *Spy) ListUsers(ctx context.Context, emailPrefix, after string, limit int) ([]store.User, error) {
	call := &Call{Method: "ListUsers", Key: emailPrefix}
	if err := s.before(ctx, call); err != nil {
		return nil, s.after(call, err)
	}
	l, ok := s.users.(store.UserLister)
	if !ok {
		return nil, s.after(call, fmt.Errorf("authtest: %T is not a store.UserLister: %w", s.users, errors.ErrUnsupported))
	}
	out, err := l.ListUsers(ctx, emailPrefix, after, limit)
	return out, s.after(call, err)
}

// PutPending records the call and passes it to the wrapped PendingStore.
func (s *Spy) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	call := &Call{Method: "PutPending", Key: key, Value: slices.Clone(value), TTL: ttl}
	if err := s.before(ctx, call); err != nil {
		return s.after(call, err)
	}
	return s.after(call, s.pending.PutPending(ctx, key, value, ttl))
}

// AddPendingIfAbsent records the call and passes it to the wrapped
// PendingStore.
func (s *Spy) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	call := &Call{Method: "AddPendingIfAbsent", Key: key, Value: slices.Clone(value), TTL: ttl}
	if err := s.before(ctx, call); err != nil {
		return false, s.after(call, err)
	}
	ok, err := s.pending.AddPendingIfAbsent(ctx, key, value, ttl)
	return ok, s.after(call, err)
}

// GetPending records the call and passes it to the wrapped PendingStore.
func (s *Spy) GetPending(ctx context.Context, key string) ([]byte, error) {
	call := &Call{Method: "GetPending", Key: key}
	if err := s.before(ctx, call); err != nil {
		return nil, s.after(call, err)
	}
	v, err := s.pending.GetPending(ctx, key)
	return v, s.after(call, err)
}

// TakePending records the call and passes it to the wrapped PendingStore.
func (s *Spy) TakePending(ctx context.Context, key string) ([]byte, error) {
	call := &Call{Method: "TakePending", Key: key}
	if err := s.before(ctx, call); err != nil {
		return nil, s.after(call, err)
	}
	v, err := s.pending.TakePending(ctx, key)
	return v, s.after(call, err)
}

// DeletePending records the call and passes it to the wrapped PendingStore.
func (s *Spy) DeletePending(ctx context.Context, key string) error {
	call := &Call{Method: "DeletePending", Key: key}
	if err := s.before(ctx, call); err != nil {
		return s.after(call, err)
	}
	return s.after(call, s.pending.DeletePending(ctx, key))
}

// IncrPending records the call and passes it to the wrapped PendingStore.
func (s *Spy) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	call := &Call{Method: "IncrPending", Key: key, TTL: ttl}
	if err := s.before(ctx, call); err != nil {
		return 0, 0, s.after(call, err)
	}
	n, left, err := s.pending.IncrPending(ctx, key, ttl)
	return n, left, s.after(call, err)
}

// AllowRate records the call and passes it to the wrapped PendingStore,
// which must implement store.RateStore.
func (s *Spy) AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (bool, time.Duration, error) {
	call := &Call{Method: "AllowRate", Key: key, TTL: interval}
	if err := s.before(ctx, call); err != nil {
		return false, 0, s.after(call, err)
	}
	r, ok := s.pending.(store.RateStore)
	if !ok {
		return false, 0, s.after(call, fmt.Errorf("authtest: %T is not a store.RateStore: %w", s.pending, errors.ErrUnsupported))
	}
	allowed, retry, err := r.AllowRate(ctx, key, interval, burst)
	return allowed, retry, s.after(call, err)
}

// sessions returns the wrapped SessionStore.
func (s *Spy) sessions() (store.SessionStore, error) {
	if ss, ok := s.users.(store.SessionStore); ok {
		return ss, nil
	}
	if ss, ok := s.pending.(store.SessionStore); ok {
		return ss, nil
	}
	return nil, fmt.Errorf("authtest: neither %T nor %T is a store.SessionStore: %w", s.users, s.pending, errors.ErrUnsupported)
}

// CreateSession records the call and passes it to the wrapped SessionStore.
func (s *Spy) CreateSession(ctx context.Context, sess store.Session) error {
	call := &Call{Method: "CreateSession", Key: sess.ID}
	if err := s.before(ctx, call); err != nil {
		return s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return s.after(call, err)
	}
	return s.after(call, ss.CreateSession(ctx, sess))
}

// SessionByID records the call and passes it to the wrapped SessionStore.
func (s *Spy) SessionByID(ctx context.Context, id string) (store.Session, error) {
	call := &Call{Method: "SessionByID", Key: id}
	if err := s.before(ctx, call); err != nil {
		return store.Session{}, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return store.Session{}, s.after(call, err)
	}
	out, err := ss.SessionByID(ctx, id)
	return out, s.after(call, err)
}

// SessionsByUser records the call and passes it to the wrapped
// SessionStore.
func (s *Spy) SessionsByUser(ctx context.Context, userID string) ([]store.Session, error) {
	call := &Call{Method: "SessionsByUser", Key: userID}
	if err := s.before(ctx, call); err != nil {
		return nil, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return nil, s.after(call, err)
	}
	out, err := ss.SessionsByUser(ctx, userID)
	return out, s.after(call, err)
}

// RotateSession records the call and passes it to the wrapped
// SessionStore.
func (s *Spy) RotateSession(ctx context.Context, id, from string, r store.Rotation) (store.Session, bool, error) {
	call := &Call{Method: "RotateSession", Key: id}
	if err := s.before(ctx, call); err != nil {
		return store.Session{}, false, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return store.Session{}, false, s.after(call, err)
	}
	out, ok, err := ss.RotateSession(ctx, id, from, r)
	return out, ok, s.after(call, err)
}

// RevokeSession records the call and passes it to the wrapped
// SessionStore.
func (s *Spy) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	call := &Call{Method: "RevokeSession", Key: id}
	if err := s.before(ctx, call); err != nil {
		return store.Session{}, false, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return store.Session{}, false, s.after(call, err)
	}
	out, ok, err := ss.RevokeSession(ctx, id, at, reason)
	return out, ok, s.after(call, err)
}

// RevokeUserSessions records the call and passes it to the wrapped
// SessionStore.
func (s *Spy) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error) {
	call := &Call{Method: "RevokeUserSessions", Key: userID}
	if err := s.before(ctx, call); err != nil {
		return 0, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return 0, s.after(call, err)
	}
	n, err := ss.RevokeUserSessions(ctx, userID, except, at, reason)
	return n, s.after(call, err)
}

// PurgeSessions records the call and passes it to the wrapped
// SessionStore.
func (s *Spy) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	call := &Call{Method: "PurgeSessions"}
	if err := s.before(ctx, call); err != nil {
		return 0, s.after(call, err)
	}
	ss, err := s.sessions()
	if err != nil {
		return 0, s.after(call, err)
	}
	n, err := ss.PurgeSessions(ctx, before)
	return n, s.after(call, err)
}

// notifier returns the wrapped ChangeNotifier, chosen as the library
// chooses: the UserStore's, else the PendingStore's.
func (s *Spy) notifier() (store.ChangeNotifier, error) {
	if n, ok := s.users.(store.ChangeNotifier); ok {
		return n, nil
	}
	if n, ok := s.pending.(store.ChangeNotifier); ok {
		return n, nil
	}
	return nil, fmt.Errorf("authtest: neither %T nor %T is a store.ChangeNotifier: %w", s.users, s.pending, errors.ErrUnsupported)
}

// NotifyChange records the call and passes it to the wrapped
// ChangeNotifier.
func (s *Spy) NotifyChange(ctx context.Context, c store.Change) error {
	call := &Call{Method: "NotifyChange", Key: c.Kind + ":" + c.ID}
	if err := s.before(ctx, call); err != nil {
		return s.after(call, err)
	}
	n, err := s.notifier()
	if err != nil {
		return s.after(call, err)
	}
	return s.after(call, n.NotifyChange(ctx, c))
}

// SubscribeChanges records the call and passes it to the wrapped
// ChangeNotifier; the changes it delivers are not calls.
func (s *Spy) SubscribeChanges(ctx context.Context, changed func(store.Change), ready func(bool)) error {
	call := &Call{Method: "SubscribeChanges"}
	if err := s.before(ctx, call); err != nil {
		return s.after(call, err)
	}
	n, err := s.notifier()
	if err != nil {
		return s.after(call, err)
	}
	return s.after(call, n.SubscribeChanges(ctx, changed, ready))
}

// Package store defines the data the library keeps and the two storage
// interfaces an application plugs in: UserStore for accounts and PendingStore
// for short-lived keyed state, with their optional capabilities UserLister
// and RateStore. All interfaces live in this file so that implementers find
// the whole contract in one place, but PasskeyStore, the optional
// capability that keeps passkeys, in passkey.go.
package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Sentinel errors returned by every implementation, wrapped with %w where
// extra context helps. Check them with errors.Is.
var (
	// ErrNotFound is returned when a user or a pending key does not exist
	// (or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrEmailTaken is returned by CreateUser and UpdateUser when another
	// user already has the (normalized) email address.
	ErrEmailTaken = errors.New("store: email already taken")
	// ErrUnavailable is returned (wrapped) when the backend cannot be
	// reached or does not answer within the context deadline. The library
	// answers it with 503 service_unavailable.
	ErrUnavailable = errors.New("store: backend unavailable")
)

// User is one account. The library treats it as a value: stores return
// copies, and mutations go through UserStore.UpdateUser. Its secrets
// (PasswordHash, the TOTP secrets, BackupCodes) are never marshalled to
// JSON; handlers.Account is the view to show.
type User struct {
	// ID is the store-assigned, immutable identifier (opaque to the library).
	ID string
	// Email is the normalized (trimmed, lower-cased) address; unique.
	Email string
	// PasswordHash is an encoded hash (argon2id PHC, or a migrated Django
	// or bcrypt hash). Never a plaintext password.
	PasswordHash string `json:"-"`
	// IsActive is false until the email is verified, or when an admin
	// deactivates the account. Inactive users cannot log in or refresh.
	// An inactive account whose email is verified is shut: no password
	// reset reopens it.
	IsActive bool
	// EmailVerified records that the owner proved control of Email.
	EmailVerified bool
	// Disabled is set by an administrator's deactivation and cleared only
	// by an administrator's activation. While it is set the account stays
	// inactive: email verification cannot activate it.
	Disabled bool
	// IsStaff grants access to the admin API with the default IsAdmin.
	IsStaff bool
	// TokenVersion is embedded in every JWT; bumping it kills every token
	// issued before.
	TokenVersion int64
	// TOTPSecret is the confirmed TOTP secret, encrypted by the library;
	// empty when 2FA is off.
	TOTPSecret string `json:"-"`
	// TOTPPendingSecret is a secret created by setup and not yet confirmed
	// by enable, encrypted by the library.
	TOTPPendingSecret string `json:"-"`
	// TOTPEnabled is true once a TOTP secret is confirmed.
	TOTPEnabled bool
	// TOTPLastStep is the last accepted TOTP time step; codes of this step
	// or earlier are refused (replay protection).
	TOTPLastStep int64
	// BackupCodes are the hashed single-use 2FA backup codes.
	BackupCodes []BackupCode `json:"-"`
	// DateJoined is when the account was created.
	DateJoined time.Time
	// LastLogin is the time of the last successful login; zero if never.
	LastLogin time.Time
	// Profile holds the application's own account fields, by name: the
	// values of the extra signup fields it declared (authsys.Profile), as
	// encoding/json decodes them (string, float64, bool, nil, []any,
	// map[string]any) or as their Validate function returned them, and
	// whatever else its store keeps. The library passes it to CreateUser
	// and shows it, without the fields declared Private, in the public view
	// of the user; it changes nothing in it. Nil (or empty) when the
	// account has none. The SQL stores of this module keep it as one JSON
	// document and return it as encoding/json decodes it; an application's
	// store may map its own columns instead (see storetest.UserHarness).
	Profile map[string]any
}

// BackupCode is one hashed 2FA backup code.
type BackupCode struct {
	// ID identifies the code in listings (never the code itself).
	ID string
	// Hash is the keyed hash of the normalized code.
	Hash string
	// UsedAt is when the code was consumed; zero while unused.
	UsedAt time.Time
}

// Clone returns a deep copy of u, so that callers never alias a store's
// internal state: its backup codes, and the objects and arrays of its
// Profile at any depth.
func (u User) Clone() User {
	if u.BackupCodes != nil {
		u.BackupCodes = append([]BackupCode(nil), u.BackupCodes...)
	}
	if u.Profile != nil {
		u.Profile = cloneJSON(u.Profile).(map[string]any)
	}
	return u
}

// cloneJSON returns a deep copy of v's objects (map[string]any) and arrays
// ([]any), the containers encoding/json decodes into; other values are
// copied as they are.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneJSON(x)
		}
		return out
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSON(x)
		}
		return out
	}
	return v
}

// UserStore keeps accounts. Implementations must be safe for concurrent use
// by multiple goroutines. Every method honours ctx's deadline; a backend that
// cannot answer (unreachable, closed, or not answering before the deadline)
// returns an error wrapping ErrUnavailable, never a bare driver error. A
// call whose ctx has already ended, past its deadline or cancelled, returns
// promptly an error wrapping both ErrUnavailable and ctx.Err()
// (context.DeadlineExceeded or context.Canceled), and changes nothing.
//
// Run storetest.RunUserStore against an implementation to prove it.
type UserStore interface {
	// CreateUser stores a new user and returns it as stored, with ID
	// assigned when u.ID is empty and kept otherwise. It returns
	// ErrEmailTaken when the normalized email already exists (whatever its
	// case). A non-empty u.ID that another user has is refused with an
	// error that wraps neither ErrEmailTaken nor ErrUnavailable, and
	// nothing is stored.
	CreateUser(ctx context.Context, u User) (User, error)
	// UserByID returns a copy of the user, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail returns a copy of the user with the given normalized
	// email (compared case-insensitively), or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser atomically reads the latest user, calls fn with a copy of
	// it and, if fn returns nil, stores the modified copy and returns it.
	// fn's error is returned unchanged (wrapped or not) and nothing is
	// written. Concurrent UpdateUser calls on one user never lose an
	// update; fn may be called more than once (on a retried transaction or
	// compare-and-swap) and must not have side effects. fn must not change
	// ID: if it does, UpdateUser returns an error (not wrapping
	// ErrUnavailable) and writes nothing. It returns ErrNotFound for an
	// unknown id and ErrEmailTaken when fn changes Email to one another
	// user has.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
}

// UserLister is an optional capability of a UserStore, used by the admin
// API to list and search users.
type UserLister interface {
	// ListUsers returns up to limit users whose email starts with
	// emailPrefix (case-insensitively; "" matches all), ordered by email,
	// starting strictly after the email given as after ("" = from the
	// beginning). It is safe for concurrent use.
	ListUsers(ctx context.Context, emailPrefix, after string, limit int) ([]User, error)
}

// PendingStore keeps short-lived keyed state with a time to live: 2FA
// pending sessions, pending email changes, the refresh-token denylist and
// rate-limit counters. Keys are opaque strings chosen by the library (no
// secrets in them: secrets are hashed first). Implementations must be safe
// for concurrent use, must never return an expired entry, and must make
// TakePending, AddPendingIfAbsent and IncrPending atomic, across processes
// when the store is shared. Every method honours ctx's deadline; a backend
// that cannot answer (unreachable, closed, or not answering before the
// deadline) returns an error wrapping ErrUnavailable, never a bare driver
// error. A call whose ctx has already ended, past its deadline or
// cancelled, returns promptly an error wrapping both ErrUnavailable and
// ctx.Err() (context.DeadlineExceeded or context.Canceled), and changes
// nothing.
//
// Run storetest.RunPendingStore against an implementation to prove it.
type PendingStore interface {
	// PutPending stores value under key for ttl, replacing any value.
	PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// AddPendingIfAbsent stores value under key for ttl only if the key is
	// absent (or expired), and reports whether it did. Of concurrent
	// callers on one key exactly one gets true.
	AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// GetPending returns the value under key, or ErrNotFound.
	GetPending(ctx context.Context, key string) ([]byte, error)
	// TakePending atomically returns and deletes the value under key, or
	// returns ErrNotFound. Of concurrent callers on one key exactly one
	// gets the value.
	TakePending(ctx context.Context, key string) ([]byte, error)
	// DeletePending removes key; deleting a missing key is not an error.
	DeletePending(ctx context.Context, key string) error
	// IncrPending atomically adds one to the counter under key and returns
	// the new count and the counter's remaining time to live. A missing or
	// expired counter starts at 1 and lives for ttl; later increments do
	// not extend its life (a fixed window). GetPending on a counter's key
	// returns the count as a decimal string, such as "12".
	IncrPending(ctx context.Context, key string, ttl time.Duration) (count int64, ttlLeft time.Duration, err error)
}

// RateStore is an optional capability of a PendingStore: a rate limiter
// kept in the store, by the generic cell rate algorithm (GCRA). The
// library's rate limits use it when Config.Pending implements it, and fall
// back to IncrPending counters in fixed windows otherwise. Every store of
// this module implements it.
//
// A key's state is one instant, its theoretical arrival time (TAT): when
// the key would be back to a full burst. A missing key, or one whose TAT
// has passed, has a full burst. The entry expires at its TAT (its time to
// live is TAT minus now), so idle keys vanish by themselves.
//
// Implementations must be safe for concurrent use, and AllowRate must be
// atomic, across processes when the store is shared: one round trip to
// the backend (one statement, one script) reads and writes the state, so
// that of any number of concurrent callers on one key exactly as many are
// allowed as the budget holds. Like the other methods it honours ctx's
// deadline and wraps ErrUnavailable when the backend cannot answer.
//
// Run storetest.RunPendingStore against an implementation to prove it: it
// runs the RateStore cases when the store implements the interface.
type RateStore interface {
	// AllowRate checks one event against the rate limit under key, of
	// emission interval interval and burst burst: up to burst events at
	// once, then one every interval. With now the store's clock and tat the
	// key's state (now when missing or passed), the event is allowed when
	// tat+interval-burst*interval <= now; it then sets the state to
	// tat+interval, expiring at that instant, and returns true, 0. A
	// refused event changes nothing: AllowRate returns false and the exact
	// time until an event would be allowed, tat+interval-burst*interval-now
	// (positive, and never more than interval).
	//
	// Time is the store's: its injected clock for stores that have one (as
	// for their pending expiry), the server's for a shared server that
	// keeps time itself (Redis). A store may round interval up to its
	// clock's resolution (a microsecond). interval must be positive, burst
	// at least 1, and burst*interval must fit a time.Duration (a store may
	// refuse spans over a century); otherwise AllowRate returns an error
	// that does not wrap ErrUnavailable, and changes nothing.
	//
	// A key used with AllowRate belongs to it: while its state lives,
	// GetPending, TakePending, PutPending, AddPendingIfAbsent and
	// IncrPending on it see or leave an unspecified value, and AllowRate on
	// a key written by them has an unspecified outcome (never a panic).
	// Once its TAT has passed the key has expired like any pending entry
	// (GetPending returns ErrNotFound). DeletePending removes the state,
	// which gives the key a full burst again.
	AllowRate(ctx context.Context, key string, interval time.Duration, burst int) (ok bool, retryAfter time.Duration, err error)
}

// RateInterval checks the arguments of RateStore.AllowRate and returns
// interval rounded up to a whole microsecond, the resolution the stores of
// this module keep time in. interval must be positive, burst at least 1,
// and burst times the rounded interval must fit a time.Duration; the error
// says which does not.
func RateInterval(interval time.Duration, burst int) (time.Duration, error) {
	if interval <= 0 || burst < 1 || interval > math.MaxInt64-time.Microsecond {
		return 0, fmt.Errorf("invalid interval %v or burst %d", interval, burst)
	}
	interval = (interval + time.Microsecond - 1).Truncate(time.Microsecond)
	if int64(burst) > math.MaxInt64/int64(interval) {
		return 0, fmt.Errorf("burst %d of interval %v overflows", burst, interval)
	}
	return interval, nil
}

// NormalizeEmail returns the canonical form of an email address used as the
// unique key: surrounding white space trimmed and lower-cased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// Session is the durable record of one login: a session, the family of
// refresh tokens descending from one login. The library creates it at
// login, moves it forward at every refresh (RotateSession) and revokes it
// at logout; its tokens carry its ID ("sid") and are refused once it is
// revoked, so a revocation lasts as long as the record. Times are compared
// to the microsecond.
type Session struct {
	// ID is the session's random identifier, assigned by the library.
	ID string
	// UserID is the account the session belongs to.
	UserID string
	// CreatedAt is the login's time.
	CreatedAt time.Time
	// LastUsedAt is the time of the last refresh (CreatedAt before one).
	LastUsedAt time.Time
	// IdleExpiresAt is when the session ends unless refreshed before: the
	// refresh token lifetime after the last rotation.
	IdleExpiresAt time.Time
	// ExpiresAt is the session's absolute end, whatever its refreshes.
	ExpiresAt time.Time
	// IP and UserAgent are the client's at the login.
	IP, UserAgent string
	// LastIP and LastUserAgent are the client's at the last refresh.
	LastIP, LastUserAgent string
	// Label names the device for people, e.g. "Firefox on Linux".
	Label string
	// RefreshID is the ID ("jti") of the session's current refresh token.
	RefreshID string
	// PreviousRefreshID is the ID the last rotation replaced, which keeps
	// giving the same successor for a short grace; empty before the first
	// rotation.
	PreviousRefreshID string
	// RotatedAt is the time of the last rotation; zero before the first.
	RotatedAt time.Time
	// RevokedAt is when the session was revoked; zero while it is live.
	RevokedAt time.Time
	// RevokeReason says why, e.g. "logout", "revoked", "refresh_token_reuse".
	RevokeReason string
}

// Rotation is one refresh-token rotation: what SessionStore.RotateSession
// writes.
type Rotation struct {
	// To is the ID of the new refresh token (the new RefreshID).
	To string
	// At is the rotation's time (the new RotatedAt and LastUsedAt).
	At time.Time
	// IdleExpiresAt is the new IdleExpiresAt.
	IdleExpiresAt time.Time
	// IP and UserAgent are the client's (the new LastIP and LastUserAgent).
	IP, UserAgent string
}

// SessionStore is an optional capability of a UserStore or a PendingStore:
// the durable records of sessions. The library uses the UserStore's when
// it has one (every SQL store and the memory store of this module does),
// else the PendingStore's (Redis: sessions then live as long as Redis keeps
// them, and the library says so at start-up). Implementations must be safe
// for concurrent use and return copies. Times are kept to the microsecond,
// in any location (the zero time stays zero). Every method honours ctx's
// deadline; a backend that cannot answer (unreachable, closed, or not
// answering before the deadline) returns an error wrapping ErrUnavailable,
// never a bare driver error. A call whose ctx has already ended returns
// promptly an error wrapping both ErrUnavailable and ctx.Err(), and
// changes nothing.
//
// Run storetest.RunSessionStore (or RunSessionStoreHarness) against an
// implementation to prove it.
type SessionStore interface {
	// CreateSession stores s. An ID already stored gives an error (neither
	// ErrNotFound nor ErrUnavailable) and changes nothing.
	CreateSession(ctx context.Context, s Session) error
	// SessionByID returns the session id, revoked or expired ones included
	// until purged, or ErrNotFound.
	SessionByID(ctx context.Context, id string) (Session, error)
	// SessionsByUser returns every stored session of userID, revoked and
	// expired ones included until purged, newest CreatedAt first (ties by
	// ID); none for an unknown user.
	SessionsByUser(ctx context.Context, userID string) ([]Session, error)
	// RotateSession is one conditional write: if the session id is not
	// revoked and its RefreshID is from, it sets PreviousRefreshID to from,
	// RefreshID to r.To, RotatedAt and LastUsedAt to r.At, IdleExpiresAt to
	// r.IdleExpiresAt, LastIP and LastUserAgent to r.IP and r.UserAgent,
	// and returns the updated session and true. Otherwise it changes
	// nothing and returns the session as stored and false. Of concurrent
	// callers with the same from exactly one gets true. Unknown id:
	// ErrNotFound.
	RotateSession(ctx context.Context, id, from string, r Rotation) (Session, bool, error)
	// RevokeSession sets RevokedAt to at and RevokeReason to reason if the
	// session is not revoked yet, and reports whether it did, with the
	// session as stored. Unknown id: ErrNotFound.
	RevokeSession(ctx context.Context, id string, at time.Time, reason string) (Session, bool, error)
	// RevokeUserSessions revokes, as RevokeSession does, every session of
	// userID not yet revoked except the one whose ID is except (none when
	// empty), and returns how many it revoked; sessions already revoked
	// keep their RevokedAt and RevokeReason. An unknown user has none to
	// revoke: 0, not ErrNotFound.
	RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) (int, error)
	// PurgeSessions deletes every session whose IdleExpiresAt or ExpiresAt
	// is before before (strictly), revoked or not, and returns how many it
	// deleted. A store whose records expire by themselves once the earlier
	// of the two has passed (Redis) has none left to delete and may return
	// 0 whatever before is.
	PurgeSessions(ctx context.Context, before time.Time) (int, error)
}

// Change names what a ChangeNotifier announces: a user or a session whose
// stored state changed.
type Change struct {
	// Kind is ChangeUser or ChangeSession.
	Kind string
	// ID is the user's or the session's ID.
	ID string
}

// Kinds of Change.
const (
	// ChangeUser: the user ID changed (any field), or all its sessions
	// did.
	ChangeUser = "user"
	// ChangeSession: the session ID changed (revoked, rotated, deleted).
	ChangeSession = "session"
)

// ChangeNotifier is an optional capability of a UserStore or a
// PendingStore: a channel on which every instance of an application hears
// of changes to users and sessions, so that each can cache what
// authentication needs and drop it when it changes. Implementations must
// be safe for concurrent use.
//
// The library announces every change it makes with NotifyChange, after
// the change is stored. A store may also announce changes made outside
// the library (PostgreSQL does, with triggers on its tables). A change may
// be heard more than once (a subscriber only drops what it cached), and a
// change announced by one instance after another, one after the other,
// reaches a subscriber in that order when the backend promises it (the
// stores of this module do).
//
// The stores of this module implement it: memory in process (every Auth
// sharing one memory.Store), Redis with pub/sub, PostgreSQL with LISTEN
// and NOTIFY. Run storetest.RunChangeNotifier (or
// RunChangeNotifierHarness) against an implementation to prove it.
type ChangeNotifier interface {
	// NotifyChange announces c to every subscriber of every instance,
	// this one included. An error means the announcement may be lost: the
	// library has already dropped the entry from its own cache, logs the
	// failure, and other instances see the change when their entry ages
	// out (Config.Sessions.CacheMaxAge) or their channel reconnects.
	NotifyChange(ctx context.Context, c Change) error
	// SubscribeChanges delivers every change announced from now on to
	// changed, in a goroutine of its own, until ctx is done; it returns at
	// once. It calls ready(true) when the subscription is confirmed (from
	// then on no change is missed) and ready(false) as soon as it may miss
	// changes (a lost connection); after a reconnect it calls ready(true)
	// again. Changes delivered while not ready may be incomplete.
	// Callbacks are never called concurrently with each other, and should
	// return quickly: a subscriber that keeps them busy may be told
	// ready(false) (the memory store's queue overflowed) or delay the
	// changes that follow. Once ctx is done no callback starts any more
	// and the subscription's goroutines end soon after. A ctx that has
	// already ended may give an error instead of a subscription.
	SubscribeChanges(ctx context.Context, changed func(Change), ready func(bool)) error
}

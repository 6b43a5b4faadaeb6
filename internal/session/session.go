package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authsys-go/authsys/internal/authcache"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// Errors of the session core. Token errors of package tokens (such as
// tokens.ErrExpired) and store errors are returned as they are.
var (
	// ErrInvalid: the token names a user that does not exist.
	ErrInvalid = errors.New("session: invalid token")
	// ErrRevoked: the token was logged out, its session ended, or its
	// token version is behind the user's.
	ErrRevoked = errors.New("session: token revoked")
	// ErrEnded: the access token's session has ended (logout, or a replayed
	// refresh token).
	ErrEnded = errors.New("session: session ended")
	// ErrReused: a refresh token was used again after the reuse grace; its
	// session has been ended.
	ErrReused = errors.New("session: refresh token reused")
	// ErrInactive: the account is not active.
	ErrInactive = errors.New("session: account inactive")
)

// Config configures a Manager; every field is required unless its comment
// says otherwise.
type Config struct {
	Users   store.UserStore
	Pending store.PendingStore
	// Sessions keeps the session records.
	Sessions store.SessionStore
	Tokens   *tokens.Manager
	Keys     Keys
	Now      func() time.Time
	// ReuseGrace is how long a rotated refresh token keeps giving the same
	// successor; zero means none.
	ReuseGrace time.Duration
	// AbsoluteTTL is a session's life from its login, whatever its
	// refreshes.
	AbsoluteTTL time.Duration
	// CheckEnded makes Authenticate refuse access tokens of ended sessions
	// (one SessionStore read).
	CheckEnded bool
	// PendingLoginTTL is the life of a pending login.
	PendingLoginTTL time.Duration
	// WorkTimeout bounds work that may outlive its request (releasing the
	// claim on a pending login).
	WorkTimeout time.Duration
	// OnPurgeError, when set, hears of a failed purge of old session
	// records (a purge is retried later; nothing else depends on it).
	OnPurgeError func(error)
	// Cache, when set, serves Authenticate without store reads; Notifier,
	// when set, carries every change to the caches of every instance.
	Cache    *authcache.Cache
	Notifier store.ChangeNotifier
	// OnNotifyError, when set, hears of a change whose announcement
	// failed (other instances may serve the old state until their entries
	// age out).
	OnNotifyError func(error)
}

// purgeEvery is how often, at most, a Manager deletes the records of
// sessions that ended long enough ago that no token of theirs can be valid.
const purgeEvery = 10 * time.Minute

// Manager is the session core. It is safe for concurrent use.
type Manager struct {
	c Config
	// nextPurge is when the next purge is due (Unix nanoseconds).
	nextPurge atomic.Int64
}

// New returns a Manager for c.
func New(c Config) *Manager { return &Manager{c: c} }

// Client is what the core records of the client of a login or refresh.
type Client struct {
	IP, UserAgent string
}

// maxUserAgent bounds the user agent recorded.
const maxUserAgent = 512

func (c Client) userAgent() string {
	ua := strings.ToValidUTF8(c.UserAgent, "")
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return ua
}

// Issued is what a login or a refresh hands the client.
type Issued struct {
	// Access and Refresh are the signed tokens.
	Access, Refresh string
	// SessionID is the session's ID.
	SessionID string
	// AccessTTL is the access token's life; RefreshExpires the refresh
	// token's expiry.
	AccessTTL      time.Duration
	RefreshExpires time.Time
}

// Start opens a new session for u, whose login is complete, and records
// it with the client's address and user agent. authTime is when the
// credentials were shown: zero for a login (now); a session that replaces
// another (after a password or 2FA change) keeps the time of the one it
// replaces, so that no such change makes a session fresh.
func (m *Manager) Start(ctx context.Context, u store.User, c Client, authTime time.Time) (Issued, error) {
	m.maybePurge(ctx)
	now := m.c.Now()
	refresh := m.c.Tokens.NewClaims(tokens.TypeRefresh, u.ID, u.TokenVersion, tokens.NewID())
	refresh.AuthTime = refresh.IssuedAt // a login shows the credentials
	if !authTime.IsZero() && authTime.Before(refresh.IssuedAt) {
		refresh.AuthTime = authTime.UTC().Truncate(time.Second)
	}
	end := now.Add(m.c.AbsoluteTTL)
	if refresh.ExpiresAt.After(end) {
		refresh.ExpiresAt = end.Truncate(time.Second)
	}
	ua := c.userAgent()
	rec := store.Session{
		ID: refresh.SessionID, UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: refresh.ExpiresAt, ExpiresAt: end,
		IP: c.IP, UserAgent: ua, LastIP: c.IP, LastUserAgent: ua, Label: Label(ua),
		RefreshID: refresh.ID,
	}
	if err := m.c.Sessions.CreateSession(ctx, rec); err != nil {
		return Issued{}, err
	}
	return m.issue(u, refresh)
}

// issue signs a fresh access token of refresh's session and refresh.
func (m *Manager) issue(u store.User, refresh tokens.Claims) (Issued, error) {
	tm := m.c.Tokens
	access := tm.NewClaims(tokens.TypeAccess, u.ID, u.TokenVersion, refresh.SessionID)
	access.AuthTime = refresh.AuthTime
	at, err := tm.Sign(access)
	if err != nil {
		return Issued{}, err
	}
	rt, err := tm.Sign(refresh)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Access: at, Refresh: rt, SessionID: refresh.SessionID, AccessTTL: tm.AccessTTL(), RefreshExpires: refresh.ExpiresAt}, nil
}

// Authenticate checks the access token raw: valid and unexpired, its
// session not ended (with CheckEnded, one SessionStore read first, so an
// ended session costs no user lookup), its user existing, at the token's
// version and active. It returns the user and the token's claims, or
// ErrEnded, ErrInvalid, ErrRevoked, ErrInactive, a tokens error or a store
// error.
func (m *Manager) Authenticate(ctx context.Context, raw string) (store.User, tokens.Claims, error) {
	claims, err := m.parseAccess(raw)
	if err != nil {
		return store.User{}, claims, err
	}
	if m.c.CheckEnded {
		s, err := m.session(ctx, claims.SessionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.User{}, claims, ErrEnded
		case err != nil:
			return store.User{}, claims, err
		case !m.live(s, m.c.Now()) || s.UserID != claims.Subject:
			return store.User{}, claims, ErrEnded
		}
	}
	u, err := m.user(ctx, claims.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, claims, ErrInvalid
	case err != nil:
		return store.User{}, claims, err
	case u.TokenVersion != claims.TokenVersion:
		return store.User{}, claims, ErrRevoked
	case !u.IsActive:
		return store.User{}, claims, ErrInactive
	}
	return u, claims, nil
}

// AuthenticateCached is Authenticate answered from the cache alone: it
// reports false unless the token, its session (when checked) and its user
// are all cached, and then touches no store and needs no deadline. A
// refusal is never decided here: Authenticate decides it.
func (m *Manager) AuthenticateCached(raw string) (store.User, tokens.Claims, bool) {
	c := m.c.Cache
	if c == nil {
		return store.User{}, tokens.Claims{}, false
	}
	claims, ok := c.Token(raw)
	if !ok {
		return store.User{}, claims, false
	}
	if m.c.CheckEnded {
		s, ok := c.Session(claims.SessionID)
		if !ok || !m.live(s, m.c.Now()) || s.UserID != claims.Subject {
			return store.User{}, claims, false
		}
	}
	u, ok := c.User(claims.Subject)
	if !ok || u.TokenVersion != claims.TokenVersion || !u.IsActive {
		return store.User{}, claims, false
	}
	return u, claims, true
}

// parseAccess verifies the access token raw, or recognises it as verified
// before.
func (m *Manager) parseAccess(raw string) (tokens.Claims, error) {
	if m.c.Cache != nil {
		if claims, ok := m.c.Cache.Token(raw); ok {
			return claims, nil
		}
	}
	claims, err := m.c.Tokens.Parse(raw, tokens.TypeAccess)
	if err == nil && m.c.Cache != nil {
		m.c.Cache.PutToken(raw, claims)
	}
	return claims, err
}

// session returns the session record id, from the cache when it can.
func (m *Manager) session(ctx context.Context, id string) (store.Session, error) {
	if m.c.Cache == nil {
		return m.c.Sessions.SessionByID(ctx, id)
	}
	if s, ok := m.c.Cache.Session(id); ok {
		return s, nil
	}
	t := m.c.Cache.Ticket()
	s, err := m.c.Sessions.SessionByID(ctx, id)
	if err == nil {
		m.c.Cache.PutSession(t, s)
	}
	return s, err
}

// user returns the user id, from the cache when it can.
func (m *Manager) user(ctx context.Context, id string) (store.User, error) {
	if m.c.Cache == nil {
		return m.c.Users.UserByID(ctx, id)
	}
	if u, ok := m.c.Cache.User(id); ok {
		return u, nil
	}
	t := m.c.Cache.Ticket()
	u, err := m.c.Users.UserByID(ctx, id)
	if err == nil {
		m.c.Cache.PutUser(t, u)
	}
	return u, err
}

// changed drops what c names from this instance's cache at once and
// announces it to every instance. A failed announcement is reported, not
// returned: the change itself is stored.
func (m *Manager) changed(ctx context.Context, c store.Change) {
	if m.c.Cache != nil {
		m.c.Cache.Invalidate(c)
	}
	if m.c.Notifier == nil {
		return
	}
	// The announcement outlives a cancelled request: the change is made.
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.c.WorkTimeout)
	defer cancel()
	if err := m.c.Notifier.NotifyChange(nctx, c); err != nil && m.c.OnNotifyError != nil {
		m.c.OnNotifyError(err)
	}
}

// UpdateUser is the UserStore's UpdateUser, announcing the change: every
// change of a user goes through it.
func (m *Manager) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	u, err := m.c.Users.UpdateUser(ctx, id, fn)
	// A store error may hide a committed write (a lost answer): announce it
	// too, as revoke does; an error of fn changed nothing but costs only an
	// eviction.
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		m.changed(ctx, store.Change{Kind: store.ChangeUser, ID: id})
	}
	return u, err
}

// revoke revokes the session record id and announces it.
func (m *Manager) revoke(ctx context.Context, id string, at time.Time, reason string) (store.Session, bool, error) {
	s, ok, err := m.c.Sessions.RevokeSession(ctx, id, at, reason)
	// Announced whenever the record may have changed: also when the store's
	// answer was lost (the write may have happened), and when it was
	// revoked already (an earlier call whose answer was lost may not have
	// announced it). Duplicates cost an eviction.
	if ok || err != nil || !s.RevokedAt.IsZero() {
		m.changed(ctx, store.Change{Kind: store.ChangeSession, ID: id})
	}
	return s, ok, err
}

// live reports whether s is neither revoked nor past its absolute end at
// now. (Past its idle end no refresh token of it is valid, and its access
// tokens expire by themselves.)
func (m *Manager) live(s store.Session, now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// Refresh rotates the refresh token raw, as one conditional write on the
// session record: the current token moves the record to a fresh successor;
// the token the last rotation replaced gets that same successor within the
// reuse grace (two tabs refreshing at once stay logged in), whatever
// instance answers. Any other use is a replay: the session is revoked and
// ErrReused returned with the user. Other errors: ErrRevoked (session
// ended, or the user's token version moved on), ErrInvalid, ErrInactive, a
// tokens error, a store error.
func (m *Manager) Refresh(ctx context.Context, raw string, c Client) (Issued, store.User, error) {
	claims, err := m.c.Tokens.Parse(raw, tokens.TypeRefresh)
	if err != nil {
		return Issued{}, store.User{}, err
	}
	now := m.c.Now()
	s, err := m.c.Sessions.SessionByID(ctx, claims.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Issued{}, store.User{}, ErrRevoked
	case err != nil:
		return Issued{}, store.User{}, err
	case !m.live(s, now) || s.UserID != claims.Subject:
		return Issued{}, store.User{}, ErrRevoked
	}
	u, err := m.c.Users.UserByID(ctx, claims.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Issued{}, store.User{}, ErrInvalid
	case err != nil:
		return Issued{}, store.User{}, err
	case !u.IsActive:
		return Issued{}, store.User{}, ErrInactive
	case u.TokenVersion != claims.TokenVersion:
		return Issued{}, store.User{}, ErrRevoked
	}
	if claims.ID == s.RefreshID {
		iat := now.Truncate(time.Second)
		if !m.refreshExpiry(iat, s).After(iat) {
			return Issued{}, store.User{}, ErrRevoked // the session's last second: nothing left to issue
		}
		r := store.Rotation{
			To: tokens.NewID(), At: now, IdleExpiresAt: m.refreshExpiry(iat, s),
			IP: c.IP, UserAgent: c.userAgent(),
		}
		next, ok, err := m.c.Sessions.RotateSession(ctx, s.ID, claims.ID, r)
		switch {
		case err != nil:
			return Issued{}, store.User{}, err
		case ok:
			return m.successor(u, claims, next)
		case !next.RevokedAt.IsZero():
			return Issued{}, store.User{}, ErrRevoked
		}
		s = next // rotated by a concurrent caller: the grace applies
	}
	if claims.ID != s.PreviousRefreshID || m.c.ReuseGrace <= 0 || now.Sub(s.RotatedAt) > m.c.ReuseGrace {
		if _, _, err := m.revoke(ctx, s.ID, now, ReasonReuse); err != nil {
			return Issued{}, store.User{}, err
		}
		return Issued{}, u, ErrReused
	}
	return m.successor(u, claims, s)
}

// successor issues the tokens of s's current refresh token, rotated from
// the one of claims: its ID and times come from the record, so every
// caller, on any instance, issues the same refresh token.
func (m *Manager) successor(u store.User, claims tokens.Claims, s store.Session) (Issued, store.User, error) {
	iat := s.RotatedAt.Truncate(time.Second)
	succ := tokens.Claims{
		Type: tokens.TypeRefresh, Subject: claims.Subject, TokenVersion: claims.TokenVersion,
		SessionID: s.ID, ID: s.RefreshID, IssuedAt: iat, ExpiresAt: m.refreshExpiry(iat, s),
		AuthTime: claims.AuthTime,
	}
	is, err := m.issue(u, succ)
	return is, u, err
}

// Reauthenticated renews the tokens of the session of access, whose user u
// has just shown their credentials again: both carry the time as their
// AuthTime, so the session is fresh (see Fresh). The refresh token
// refresh, when it is the session's current one, is rotated as by
// Refresh; without it (a client that keeps no refresh cookie) only a new
// access token is issued (Issued.Refresh is empty), and the session's next
// refresh carries the older time.
func (m *Manager) Reauthenticated(ctx context.Context, u store.User, access tokens.Claims, refresh string, c Client) (Issued, error) {
	now := m.c.Now()
	at := now.Truncate(time.Second)
	if rc, err := m.c.Tokens.Parse(refresh, tokens.TypeRefresh); err == nil && rc.SessionID == access.SessionID && rc.Subject == u.ID {
		s, err := m.c.Sessions.SessionByID(ctx, rc.SessionID)
		if err != nil {
			return Issued{}, err
		}
		if rc.ID == s.RefreshID && m.refreshExpiry(at, s).After(at) {
			r := store.Rotation{To: tokens.NewID(), At: now, IdleExpiresAt: m.refreshExpiry(at, s), IP: c.IP, UserAgent: c.userAgent()}
			next, ok, err := m.c.Sessions.RotateSession(ctx, s.ID, rc.ID, r)
			if err != nil {
				return Issued{}, err
			}
			if ok {
				rc.AuthTime = at
				is, _, err := m.successor(u, rc, next)
				return is, err
			}
		}
	}
	// No refresh token to rotate: only a live session of the user gets a
	// new access token.
	s, err := m.c.Sessions.SessionByID(ctx, access.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Issued{}, ErrEnded
	case err != nil:
		return Issued{}, err
	case !m.live(s, now) || s.UserID != u.ID:
		return Issued{}, ErrEnded
	}
	tm := m.c.Tokens
	fresh := tm.NewClaims(tokens.TypeAccess, u.ID, u.TokenVersion, access.SessionID)
	fresh.AuthTime = at
	t, err := tm.Sign(fresh)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Access: t, SessionID: access.SessionID, AccessTTL: tm.AccessTTL()}, nil
}

// Fresh reports whether the credentials behind claims were shown within
// window: a login, or a re-authentication.
func (m *Manager) Fresh(claims tokens.Claims, window time.Duration) bool {
	return !claims.AuthTime.IsZero() && m.c.Now().Sub(claims.AuthTime) <= window
}

// refreshExpiry is the expiry of a refresh token of s issued at iat: the
// refresh lifetime, within the session's absolute end. Every instance
// computes the same from the record.
func (m *Manager) refreshExpiry(iat time.Time, s store.Session) time.Time {
	exp, end := iat.Add(m.c.Tokens.RefreshTTL()), s.ExpiresAt.Truncate(time.Second)
	if exp.After(end) {
		return end
	}
	return exp
}

// Reasons a session record is revoked for, its RevokeReason.
const (
	ReasonLogout    = "logout"
	ReasonLogoutAll = "logout_all"
	ReasonReuse     = "refresh_token_reuse"
	ReasonRevoked   = "revoked"
	// ReasonAccount: the account changed (password, email, deactivation,
	// an admin action) and every session of it ended.
	ReasonAccount = "account_changed"
	// ReasonTwoFactor: two-factor authentication was turned on or off,
	// which ends every other session.
	ReasonTwoFactor = "two_factor_changed"
)

// End is a logout: it revokes the session of the access token claims, if
// any, and that of the refresh token refresh, if it is valid. Either may
// be missing or invalid: End then revokes what it can, and nothing when
// neither is valid (a logout always succeeds). It returns the user ID of
// a session it revoked, for the event; empty when it revoked none.
func (m *Manager) End(ctx context.Context, access, refresh string) (string, error) {
	now := m.c.Now()
	userID := ""
	for _, t := range []struct{ raw, typ string }{{access, tokens.TypeAccess}, {refresh, tokens.TypeRefresh}} {
		if t.raw == "" {
			continue
		}
		claims, err := m.c.Tokens.Parse(t.raw, t.typ)
		if err != nil {
			continue
		}
		s, ok, err := m.revoke(ctx, claims.SessionID, now, ReasonLogout)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return userID, err
		case ok:
			userID = s.UserID
		}
	}
	return userID, nil
}

// EndAll ends every session and pending login of userID by bumping the
// token version, and revokes its session records. It returns
// store.ErrNotFound for an unknown user.
func (m *Manager) EndAll(ctx context.Context, userID string) error {
	_, err := m.UpdateUser(ctx, userID, func(x *store.User) error {
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: ending every session: %w", err)
	}
	_, err = m.RevokeAll(ctx, userID, "", ReasonLogoutAll)
	return err
}

// RevokeAll revokes every session record of userID but except (none when
// empty) and returns how many it revoked. Callers that bumped the token
// version have already ended the sessions' tokens; this keeps the records
// (and the session list) in step.
func (m *Manager) RevokeAll(ctx context.Context, userID, except, reason string) (int, error) {
	n, err := m.c.Sessions.RevokeUserSessions(ctx, userID, except, m.c.Now(), reason)
	if n > 0 || err != nil { // see revoke
		m.changed(ctx, store.Change{Kind: store.ChangeUser, ID: userID})
	}
	return n, err
}

// Revoke revokes the session id of userID; ErrNotFound (wrapping
// store.ErrNotFound) for an unknown id, another user's, or an ended one,
// alike.
func (m *Manager) Revoke(ctx context.Context, userID, id string) error {
	s, err := m.c.Sessions.SessionByID(ctx, id)
	if err == nil && (s.UserID != userID || !m.live(s, m.c.Now())) {
		err = store.ErrNotFound
	}
	if err != nil {
		return err
	}
	_, _, err = m.revoke(ctx, id, m.c.Now(), ReasonRevoked)
	return err
}

// List returns the live sessions of userID, newest first.
func (m *Manager) List(ctx context.Context, userID string) ([]store.Session, error) {
	return m.listLive(ctx, userID, false)
}

// Devices returns the live trusted devices of userID, newest first.
func (m *Manager) Devices(ctx context.Context, userID string) ([]store.Session, error) {
	return m.listLive(ctx, userID, true)
}

func (m *Manager) listLive(ctx context.Context, userID string, devices bool) ([]store.Session, error) {
	all, err := m.c.Sessions.SessionsByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := m.c.Now()
	var live []store.Session
	for _, s := range all {
		if m.live(s, now) && now.Before(s.IdleExpiresAt) && IsDevice(s.ID) == devices {
			live = append(live, s)
		}
	}
	return live, nil
}

// maybePurge deletes, at most every purgeEvery per Manager, the records of
// sessions that ended long enough ago that no token of theirs can be
// valid: past their idle or absolute end by an access token's life.
func (m *Manager) maybePurge(ctx context.Context) {
	now := m.c.Now()
	next := m.nextPurge.Load()
	if now.UnixNano() < next || !m.nextPurge.CompareAndSwap(next, now.Add(purgeEvery).UnixNano()) {
		return
	}
	if _, err := m.c.Sessions.PurgeSessions(ctx, now.Add(-m.c.Tokens.AccessTTL()-time.Minute)); err != nil && m.c.OnPurgeError != nil {
		m.c.OnPurgeError(err)
	}
}

// Trusted devices ("remember this browser"): after a login with both
// factors, a browser may skip the second factor on later logins (the
// password is still needed) until the device expires. A device is a
// record in the SessionStore, so that it is listed and revoked next to
// the sessions and ends with them (every revocation of all the user's
// records), under an ID of its own kind that no token carries; the
// browser holds a cookie with the device's ID and a one-time token bound
// to the user, the device and the user's token version, so that a
// password change or reset, disabling 2FA and logout-all end it too.

// devicePrefix starts the ID of every trusted device record.
const devicePrefix = "td_"

// deviceRefreshID is the RefreshID of a device record: no refresh token
// has it.
const deviceRefreshID = "trusted-device"

// purposeDevice is the one-time token purpose of a device cookie.
const purposeDevice = "trusted_device"

// IsDevice reports whether id is a trusted device's.
func IsDevice(id string) bool { return strings.HasPrefix(id, devicePrefix) }

func deviceState(id string, tokenVersion int64) string {
	return "d1|" + id + "|" + strconv.FormatInt(tokenVersion, 10)
}

// TrustDevice records the client c of u, who has just shown both factors,
// as a trusted device for ttl, and returns the value of its cookie.
func (m *Manager) TrustDevice(ctx context.Context, u store.User, c Client, ttl time.Duration) (string, error) {
	now := m.c.Now()
	ua := c.userAgent()
	rec := store.Session{
		ID: devicePrefix + tokens.NewID(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		IdleExpiresAt: now.Add(ttl), ExpiresAt: now.Add(ttl),
		IP: c.IP, UserAgent: ua, LastIP: c.IP, LastUserAgent: ua, Label: Label(ua),
		RefreshID: deviceRefreshID,
	}
	if err := m.c.Sessions.CreateSession(ctx, rec); err != nil {
		return "", err
	}
	return rec.ID + "." + m.c.Tokens.SignOneTime(purposeDevice, u.ID, deviceState(rec.ID, u.TokenVersion), ttl), nil
}

// TrustedDevice returns the trusted device of u named by the cookie value
// cookie, if it is genuine, of u, at u's token version, and live.
func (m *Manager) TrustedDevice(ctx context.Context, u store.User, cookie string) (store.Session, bool) {
	id, token, ok := strings.Cut(cookie, ".")
	if !ok || !IsDevice(id) || len(id) > 64 {
		return store.Session{}, false
	}
	if m.c.Tokens.VerifyOneTime(token, purposeDevice, u.ID, deviceState(id, u.TokenVersion)) != nil {
		return store.Session{}, false
	}
	s, err := m.c.Sessions.SessionByID(ctx, id)
	if err != nil || s.UserID != u.ID || !m.live(s, m.c.Now()) || !m.c.Now().Before(s.IdleExpiresAt) {
		return store.Session{}, false
	}
	return s, true
}

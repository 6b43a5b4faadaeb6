package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// userJSON is the public view of a user.
type userJSON struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	IsActive         bool      `json:"is_active"`
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	DateJoined       time.Time `json:"date_joined"`
}

func publicUser(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, IsActive: u.IsActive, TwoFactorEnabled: u.TOTPEnabled, DateJoined: u.DateJoined.UTC()}
}

type userResponse struct {
	User userJSON `json:"user"`
}

// ---- cookies ----

// setCookie sets a token cookie living maxAge; a negative maxAge deletes
// it (Max-Age=0).
func (h *Handlers) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	c := h.deps.Cookies
	secs := int(maxAge / time.Second)
	switch {
	case maxAge < 0:
		secs = -1 // net/http writes Max-Age=0; 0 would mean a session cookie
	case secs == 0:
		secs = 1
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, Domain: c.Domain,
		MaxAge: secs, Secure: c.Secure, HttpOnly: true, SameSite: c.SameSite,
	})
}

func (h *Handlers) clearCookies(w http.ResponseWriter) {
	c := h.deps.Cookies
	h.setCookie(w, c.AccessName, "", "/", -1)
	h.setCookie(w, c.RefreshName, "", c.RefreshPath, -1)
}

// startSession issues an access and a refresh token of a new session (sid)
// for u and sets them as cookies.
func (h *Handlers) startSession(w http.ResponseWriter, u store.User) error {
	sid := tokens.NewID()
	refresh := h.deps.Tokens.NewClaims(tokens.TypeRefresh, u.ID, u.TokenVersion, sid)
	return h.setTokens(w, u.ID, u.TokenVersion, sid, refresh)
}

// setTokens sets a fresh access cookie and the given refresh token.
func (h *Handlers) setTokens(w http.ResponseWriter, userID string, tv int64, sid string, refresh tokens.Claims) error {
	tm := h.deps.Tokens
	access := tm.NewClaims(tokens.TypeAccess, userID, tv, sid)
	at, err := tm.Sign(access)
	if err != nil {
		return err
	}
	rt, err := tm.Sign(refresh)
	if err != nil {
		return err
	}
	c := h.deps.Cookies
	h.setCookie(w, c.AccessName, at, "/", tm.AccessTTL())
	h.setCookie(w, c.RefreshName, rt, c.RefreshPath, refresh.ExpiresAt.Sub(h.now()))
	return nil
}

// ---- authentication ----

var errNoCredentials = errors.New("no credentials")

// accessToken returns the access token of r: the cookie, or a Bearer
// header when allowed.
func (h *Handlers) accessToken(r *http.Request) (string, error) {
	if c, err := r.Cookie(h.deps.Cookies.AccessName); err == nil && c.Value != "" {
		return c.Value, nil
	}
	if h.deps.AllowBearer {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:]), nil
		}
	}
	return "", errNoCredentials
}

// Authenticate validates the request's access token and loads its user:
// one UserStore lookup, and with CheckRevokedSessions one PendingStore read
// first (an ended session costs no user lookup). The token version must
// match the user's and the user must be active. Errors are *Problem (401)
// or a store error (503).
func (h *Handlers) Authenticate(r *http.Request) (store.User, tokens.Claims, error) {
	raw, err := h.accessToken(r)
	if err != nil {
		return store.User{}, tokens.Claims{}, problem(http.StatusUnauthorized, CodeNotAuthenticated, "Authentication credentials were not provided.")
	}
	claims, err := h.deps.Tokens.Parse(raw, tokens.TypeAccess)
	if err != nil {
		return store.User{}, claims, tokenProblem(err)
	}
	if h.deps.CheckRevokedSessions {
		_, err := h.deps.Pending.GetPending(r.Context(), h.key("rt", "family", claims.SessionID))
		switch {
		case err == nil:
			return store.User{}, claims, problem(http.StatusUnauthorized, CodeInvalidToken, "The session has ended.")
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, claims, err
		}
	}
	u, err := h.deps.Users.UserByID(r.Context(), claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, claims, problem(http.StatusUnauthorized, CodeInvalidToken, "The token is invalid.")
	}
	if err != nil {
		return store.User{}, claims, err
	}
	if u.TokenVersion != claims.TokenVersion {
		return store.User{}, claims, problem(http.StatusUnauthorized, CodeInvalidToken, "The token has been revoked.")
	}
	if !u.IsActive {
		return store.User{}, claims, problem(http.StatusUnauthorized, CodeAccountInactive, "The account is inactive.")
	}
	return u, claims, nil
}

func tokenProblem(err error) *Problem {
	if errors.Is(err, tokens.ErrExpired) {
		return problem(http.StatusUnauthorized, CodeTokenExpired, "The token has expired.")
	}
	return &Problem{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Title: http.StatusText(http.StatusUnauthorized), Detail: "The token is invalid."}
}

type ctxKey struct{}

type authInfo struct {
	user   store.User
	claims tokens.Claims
}

// UserFromContext returns the user that Middleware (or an authenticated
// endpoint) stored in ctx.
func UserFromContext(ctx context.Context) (store.User, bool) {
	ai, ok := ctx.Value(ctxKey{}).(*authInfo)
	if !ok {
		return store.User{}, false
	}
	return ai.user.Clone(), true
}

func claimsFromContext(ctx context.Context) tokens.Claims {
	ai, _ := ctx.Value(ctxKey{}).(*authInfo)
	if ai == nil {
		return tokens.Claims{}
	}
	return ai.claims
}

// Middleware lets through only requests with a valid access token, with the
// user in the request context. Failures are 401 problem+json; an unavailable
// store is 503 and keeps the cookies (an outage is not a logout).
func (h *Handlers) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h.deps.RequestTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, h.deps.RequestTimeout)
			defer cancel()
		}
		u, claims, err := h.Authenticate(r.WithContext(ctx))
		if err != nil {
			h.securityHeaders(w)
			h.writeProblem(w, r, toProblem(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authInfo{u, claims})))
	})
}

// authed wraps an endpoint that needs a valid access token.
func (h *Handlers) authed(fn func(w http.ResponseWriter, r *http.Request, u store.User) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, claims, err := h.Authenticate(r)
		if err != nil {
			return err
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authInfo{u, claims}))
		return fn(w, r, u)
	}
}

// ---- rate limits ----

// limit checks one request against the client IP's budget and then, when
// account is not empty, against the account's (a normalized email or a
// user ID), each a GCRA limit (see ratelimit.Limiter); a refused request
// gets 429 throttled with Retry-After, spends nothing from the budget that
// refused it, and the caller does no other work. Call it before any
// hashing or store lookup. A request refused by the IP budget is not
// checked against the account's. A limiter store failure is returned as
// is (503: the limits fail closed).
func (h *Handlers) limit(r *http.Request, scope string, rate ratelimit.Rate, account string) error {
	if ip, ok := h.ipBucket(r); ok {
		if err := h.limitKey(r, scope, rate, "ip:"+ip); err != nil {
			return err
		}
	}
	if account == "" {
		return nil
	}
	return h.limitAccount(r, scope, rate, account)
}

// ipBucket names the IP budget of r: the client's IPv4 address, or the /64
// of its IPv6 address (one host commonly holds a whole /64, so counting
// single IPv6 addresses would hand it 2^64 budgets). Without a client IP
// (a Unix-socket peer that Config.TrustedProxies does not trust) there is
// no IP budget, only the account's: pooling every such client in one
// budget would let one of them throttle all.
func (h *Handlers) ipBucket(r *http.Request) (string, bool) {
	if h.deps.ClientIP == nil {
		return "", false
	}
	ip := h.deps.ClientIP.ClientIP(r)
	switch {
	case !ip.IsValid():
		h.unknownIP.Do(func() {
			h.log.WarnContext(r.Context(), "authsys: a request has no client IP address (a Unix socket?); IP rate limits are skipped for such requests; add \"unix\" to Config.TrustedProxies to read X-Forwarded-For",
				slog.String("remote_addr", r.RemoteAddr))
		})
		return "", false
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String(), true
	}
	return ip.String(), true
}

// limitTwoFactor and limitTwoFactorDaily are the scopes of the 2FA code
// budgets, named as the limits in Config.RateLimits; their account key is
// the user ID.
const (
	limitTwoFactor      = "2fa_verify"
	limitTwoFactorDaily = "2fa_verify_daily"
)

// limitTwoFactorAccount checks a 2FA code attempt against both budgets of
// the account userID.
func (h *Handlers) limitTwoFactorAccount(r *http.Request, userID string) error {
	if err := h.limitAccount(r, limitTwoFactor, h.deps.Limits.TwoFactor, userID); err != nil {
		return err
	}
	return h.limitAccount(r, limitTwoFactorDaily, h.deps.Limits.TwoFactorDaily, userID)
}

// limitAccount is limit for the account alone, for endpoints that learn
// the account only after a lookup guarded by an IP-only limit (2FA verify).
func (h *Handlers) limitAccount(r *http.Request, scope string, rate ratelimit.Rate, account string) error {
	return h.limitKey(r, scope, rate, "acct:"+account)
}

// limitKey checks one request against the budget of scope:key.
func (h *Handlers) limitKey(r *http.Request, scope string, rate ratelimit.Rate, key string) error {
	if rate.Zero() || h.deps.Limiter == nil {
		return nil
	}
	ok, retry, err := h.deps.Limiter.Allow(r.Context(), scope+":"+key, rate)
	if err != nil {
		return err
	}
	if !ok {
		ev := Event{Kind: EventThrottled, Reason: scope}
		if id, ok := strings.CutPrefix(key, "acct:"); ok && (scope == limitTwoFactor || scope == limitTwoFactorDaily) {
			ev.UserID = id // the 2FA budget is the account's by user ID
		}
		h.emit(r, ev)
		p := problem(http.StatusTooManyRequests, CodeThrottled, "Too many requests; try again later.")
		p.RetryAfter = retry
		return p
	}
	return nil
}

// ---- login, logout, refresh, me ----

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResponse struct {
	Requires2FA  bool      `json:"requires_2fa"`
	User         *userJSON `json:"user,omitempty"`
	SessionToken string    `json:"session_token,omitempty"`
}

var errInvalidCredentials = problem(http.StatusUnauthorized, CodeInvalidCredentials, "Invalid email or password.")

func (h *Handlers) login(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("email", in.Email)
	f.required("password", in.Password)
	if err := f.err(); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	account := email
	if !validEmail(email) {
		account = "" // never a key for a string that cannot be an account
	}
	if err := h.limit(r, "login", h.deps.Limits.Login, account); err != nil {
		return err
	}
	u, err := h.checkPassword(r, email, in.Password)
	if err != nil {
		return err
	}
	if u.TOTPEnabled {
		token, err := h.startPendingSession(r.Context(), u)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, loginResponse{Requires2FA: true, SessionToken: token})
	}
	return h.completeLogin(w, r, u, "password")
}

// checkPassword verifies email and password the same way whether or not the
// account exists, upgrades a legacy hash, and refuses inactive accounts. An
// unknown email, a string that cannot be an email (never looked up, so no
// backend sees it) and an account whose stored hash is unusable all cost
// one password verification, like a wrong password.
func (h *Handlers) checkPassword(r *http.Request, email, pw string) (store.User, error) {
	ctx := r.Context()
	unknown := func() (store.User, error) {
		if err := h.deps.Hasher.DummyVerify(ctx, pw); err != nil {
			return store.User{}, err
		}
		h.emit(r, Event{Kind: EventLoginFailed, Reason: "unknown_email"})
		return store.User{}, errInvalidCredentials
	}
	if !validEmail(email) {
		return unknown()
	}
	u, err := h.deps.Users.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return unknown()
	}
	if err != nil {
		return store.User{}, err
	}
	ok, rehash, err := h.deps.Hasher.Verify(ctx, pw, u.PasswordHash)
	switch {
	case err == nil:
	case errors.Is(err, password.ErrBusy):
		return store.User{}, err
	case errors.Is(err, password.ErrUnknownFormat):
		// No computation ran (an unusable or corrupt hash): spend it now.
		if err := h.deps.Hasher.DummyVerify(ctx, pw); err != nil {
			return store.User{}, err
		}
	default:
		h.log.WarnContext(ctx, "authsys: verifying a stored password hash failed", "user_id", u.ID, "error", err)
	}
	if !ok {
		h.emit(r, Event{Kind: EventLoginFailed, UserID: u.ID, Reason: "wrong_password"})
		return store.User{}, errInvalidCredentials
	}
	if !u.IsActive {
		h.emit(r, Event{Kind: EventLoginFailed, UserID: u.ID, Reason: "inactive"})
		if u.Disabled {
			return store.User{}, problem(http.StatusForbidden, CodeAccountInactive, "The account has been deactivated.")
		}
		return store.User{}, problem(http.StatusForbidden, CodeAccountInactive, "The account is not active; verify your email address first.")
	}
	if rehash {
		if nh, err := h.deps.Hasher.Hash(ctx, pw); err == nil {
			old := u.PasswordHash
			u2, err := h.deps.Users.UpdateUser(ctx, u.ID, func(x *store.User) error {
				if x.PasswordHash == old && x.TokenVersion == u.TokenVersion {
					x.PasswordHash = nh
				}
				return nil
			})
			// Only the same account state is adopted: a password
			// change meanwhile bumped the token version, and the login
			// must not pick it up (completeLogin refuses it).
			if err == nil && u2.TokenVersion == u.TokenVersion {
				u = u2
			}
		}
	}
	return u, nil
}

// completeLogin records the login and starts a session, if the account is
// still as the password was checked against: the same token version (every
// password change, reset, email change, logout-all, revocation and
// deactivation bumps it) and active. A change that commits while the
// password is being hashed thus fails the login instead of being absorbed
// into a session that outlives it.
func (h *Handlers) completeLogin(w http.ResponseWriter, r *http.Request, u store.User, method string) error {
	now := h.now()
	checked := u.TokenVersion
	u, err := h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TokenVersion != checked || !x.IsActive {
			return errInvalidCredentials
		}
		x.LastLogin = now
		return nil
	})
	if err != nil {
		return err
	}
	return h.finishLogin(w, r, u, method)
}

// finishLogin starts a session for u, whose login is already recorded.
func (h *Handlers) finishLogin(w http.ResponseWriter, r *http.Request, u store.User, method string) error {
	if err := h.startSession(w, u); err != nil {
		return err
	}
	h.emit(r, Event{Kind: EventLoginSucceeded, UserID: u.ID, Reason: method})
	pu := publicUser(u)
	return writeJSON(w, http.StatusOK, loginResponse{User: &pu})
}

func (h *Handlers) key(parts ...string) string {
	return h.deps.KeyPrefix + strings.Join(parts, ":")
}

// remaining is the time until t, at least one millisecond.
func (h *Handlers) remaining(t time.Time) time.Duration {
	if d := t.Sub(h.now()); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}

// revokeFamily kills every refresh token of session sid.
func (h *Handlers) revokeFamily(ctx context.Context, sid string) error {
	return h.deps.Pending.PutPending(ctx, h.key("rt", "family", sid), []byte{1}, h.deps.Tokens.RefreshTTL()+time.Minute)
}

func (h *Handlers) logout(w http.ResponseWriter, r *http.Request, u store.User) error {
	ctx := r.Context()
	claims := claimsFromContext(ctx)
	if c, err := r.Cookie(h.deps.Cookies.RefreshName); err == nil {
		if rc, err := h.deps.Tokens.Parse(c.Value, tokens.TypeRefresh); err == nil && rc.Subject == u.ID {
			if err := h.deps.Pending.PutPending(ctx, h.key("rt", "deny", rc.ID), []byte{1}, h.remaining(rc.ExpiresAt)); err != nil {
				return err
			}
			if rc.SessionID != claims.SessionID {
				if err := h.revokeFamily(ctx, rc.SessionID); err != nil {
					return err
				}
			}
		}
	}
	if err := h.revokeFamily(ctx, claims.SessionID); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: EventLogout, UserID: u.ID})
	return writeMessage(w, "Logged out.")
}

func (h *Handlers) logoutAll(w http.ResponseWriter, r *http.Request, u store.User) error {
	if _, err := h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		x.TokenVersion++
		return nil
	}); err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: EventLogoutAll, UserID: u.ID})
	return writeMessage(w, "Logged out of every session.")
}

func (h *Handlers) me(w http.ResponseWriter, r *http.Request, u store.User) error {
	return writeJSON(w, http.StatusOK, userResponse{publicUser(u)})
}

// rotation is what the PendingStore keeps for a rotated refresh token: when
// it was rotated and its successor's ID, so that every caller, on any
// instance and whatever its signing key, issues the same successor.
type rotation struct {
	At   int64  `json:"at"`   // Unix nanoseconds
	Next string `json:"next"` // the successor's jti
}

// refresh rotates the refresh token. The first use of a token records its
// rotation time and a random successor ID with an atomic put-if-absent;
// the successor's ID and times come from that record, so concurrent
// callers within RefreshReuseGrace all get the same successor. A use after the grace is a
// replay: the whole family (sid) is revoked.
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := r.Cookie(h.deps.Cookies.RefreshName)
	if err != nil || c.Value == "" {
		return problem(http.StatusUnauthorized, CodeNotAuthenticated, "No refresh token was provided.")
	}
	claims, err := h.deps.Tokens.Parse(c.Value, tokens.TypeRefresh)
	if err != nil {
		h.clearCookies(w)
		return tokenProblem(err)
	}
	for _, k := range []string{h.key("rt", "deny", claims.ID), h.key("rt", "family", claims.SessionID)} {
		_, err := h.deps.Pending.GetPending(ctx, k)
		if err == nil {
			h.clearCookies(w)
			return problem(http.StatusUnauthorized, CodeInvalidToken, "The token has been revoked.")
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	u, err := h.deps.Users.UserByID(ctx, claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, CodeInvalidToken, "The token is invalid.")
	}
	if err != nil {
		return err
	}
	if !u.IsActive {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, CodeAccountInactive, "The account is inactive.")
	}
	if u.TokenVersion != claims.TokenVersion {
		h.clearCookies(w)
		return problem(http.StatusUnauthorized, CodeInvalidToken, "The token has been revoked.")
	}

	now := h.now()
	usedKey := h.key("rt", "used", claims.ID)
	mine := rotation{At: now.UnixNano(), Next: tokens.NewID()}
	rec, _ := json.Marshal(mine)
	first, err := h.deps.Pending.AddPendingIfAbsent(ctx, usedKey, rec, h.remaining(claims.ExpiresAt))
	if err != nil {
		return err
	}
	at, next := now, mine.Next
	if !first {
		raw, err := h.deps.Pending.GetPending(ctx, usedKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var prev rotation
		if err != nil || json.Unmarshal(raw, &prev) != nil || prev.Next == "" {
			prev = rotation{} // unreadable: treated as a use long ago
		}
		at, next = time.Unix(0, prev.At), prev.Next
		// Without a grace every second use is a replay, even within the
		// same clock tick.
		if grace := h.deps.RefreshReuseGrace; grace <= 0 || now.Sub(at) > grace {
			if err := h.revokeFamily(ctx, claims.SessionID); err != nil {
				return err
			}
			h.clearCookies(w)
			h.emit(r, Event{Kind: EventRefreshReuse, UserID: u.ID})
			return problem(http.StatusUnauthorized, CodeTokenReused, "The token was already used; the session has been revoked.")
		}
	}
	succ := tokens.Claims{
		Type: tokens.TypeRefresh, Subject: claims.Subject, TokenVersion: claims.TokenVersion,
		SessionID: claims.SessionID, ID: next,
		IssuedAt: at.Truncate(time.Second), ExpiresAt: at.Truncate(time.Second).Add(h.deps.Tokens.RefreshTTL()),
	}
	if err := h.setTokens(w, u.ID, u.TokenVersion, claims.SessionID, succ); err != nil {
		return err
	}
	return writeMessage(w, "Token refreshed.")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

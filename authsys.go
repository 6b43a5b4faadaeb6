// Package authsys gives a net/http server a complete account system:
// signup with email verification, login with JWTs in HttpOnly cookies,
// silent refresh, logout, password reset and change, email change, TOTP
// two-factor authentication with backup codes, passkeys (Config.Passkeys),
// rate limits, session invalidation and an admin API.
//
// Native clients (Sessions.NativeClients) may keep their tokens
// themselves: Bearer access tokens, and a token mode in which the tokens
// travel in JSON bodies instead of cookies. An SPA on another origin is
// listed in HTTP.TrustedOrigins, for which the API answers CORS requests;
// CrossOrigin gives the application's routes the same handling.
//
// Build an Auth with New, mount Handler under /api/auth, and protect the
// application's own routes with Middleware:
//
//	auth, err := authsys.New(authsys.Config{...})
//	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
//	mux.Handle("GET /api/orders", auth.Middleware(orders))
//
// The application picks its backends, each in a package of its own:
//
//   - users (UserStore): store/sqlite (embedded, pure Go), store/postgres
//     (pgx), store/memory (tests and demos), or the application's own
//     implementation, proven by store/storetest;
//   - short-lived state (PendingStore): store/memory on a single instance,
//     store/redis (or the SQL stores) when several instances run;
//   - mail (Mailer): mail.Console in development, mail/smtp in production.
//
// Everything else an application needs is in this package: the
// configuration, the problem codes of error responses, the security event
// kinds, the admin actions, the application's profile fields and hooks.
// The endpoints are listed in the README and described by
// Auth.OpenAPIDocument. Package authtest
// runs an Auth on memory stores for the application's own tests.
package authsys

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"net/http"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/server"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
)

// Type aliases re-export the types an application touches, so it imports
// one package.
type (
	// User is one account; see store.User.
	User = store.User
	// UserStore keeps accounts; see store.UserStore.
	UserStore = store.UserStore
	// PendingStore keeps short-lived state; see store.PendingStore.
	PendingStore = store.PendingStore
	// Mailer sends email; see mail.Mailer.
	Mailer = mail.Mailer
	// Session is the record of one login; see store.Session.
	Session = store.Session
	// Event is one security event; see handlers.Event.
	Event = handlers.Event
	// Problem is an RFC 9457 problem detail, the body of every error
	// response; see handlers.Problem. Authenticate returns one as its
	// error for a request that is not authenticated.
	Problem = handlers.Problem
	// Account is the public view of a user, without its secrets; see
	// handlers.Account.
	Account = handlers.Account
	// FieldError is one problem with one request field, in
	// Problem.Errors; see handlers.FieldError.
	FieldError = handlers.FieldError
	// Signup is a signup request as Hooks.BeforeSignup sees it; see
	// handlers.Signup.
	Signup = handlers.Signup
)

// Auth is a configured account system. It is safe for concurrent use; two
// Auth values in one process never interfere.
type Auth struct {
	h    *server.Handlers
	deps server.Deps
}

// New fills in cfg's defaults, validates it and returns an Auth. An invalid
// field gives a *ConfigError naming it.
func New(cfg Config) (*Auth, error) {
	d, err := cfg.build()
	if err != nil {
		return nil, err
	}
	if d.SessionsVolatile {
		d.Logger.Warn("authsys: the user store does not keep session records (store.SessionStore), so they live in the pending store: if it loses its data (a Redis restart without persistence, an eviction), every session it held ends and its users must log in again; implement store.SessionStore on the user store to keep sessions through such a loss")
	}
	return &Auth{h: server.New(d), deps: d}, nil
}

// hkdfKey derives a 32-byte key for purpose from secret (HKDF-SHA256).
func hkdfKey(secret []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, purpose, 32)
}

// Handler returns the auth API: the endpoints listed in the README's
// endpoint table and described by OpenAPIDocument. Mount it with the mount
// prefix stripped:
//
//	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
//
// Every unsafe request passes http.CrossOriginProtection first (see
// HTTP.TrustedOrigins); CORS requests and preflights from the trusted
// origins are answered with credentials allowed, and every response
// carries "Vary: Origin". A request with "X-Auth-Mode: token" runs in
// token mode (see Sessions.NativeClients).
func (a *Auth) Handler() http.Handler { return a.h }

// AdminHandler returns the admin API, for users for whom Hooks.IsAdmin is
// true (default: User.IsStaff). Mount it with its prefix stripped, e.g.
// under /api/admin/auth/. It handles cross-origin requests and token mode
// as Handler does.
func (a *Auth) AdminHandler() http.Handler { return a.h.Admin() }

// Middleware lets through only authenticated requests (see Authenticate),
// with the user available through UserFromContext. Others get 401
// problem+json; a store outage gets 503 and keeps the cookies (an outage
// is not a logout). An unsafe request (not GET, HEAD or OPTIONS) from
// another origin that HTTP.TrustedOrigins does not list is refused first
// with 403 csrf_failed, as http.CrossOriginProtection decides: the access
// cookie goes with every request, and SameSite does not tell apart the
// origins of one site. For CORS, wrap the route in CrossOrigin too.
func (a *Auth) Middleware(next http.Handler) http.Handler { return a.h.Middleware(next, false) }

// OptionalMiddleware authenticates like Middleware but lets every request
// through: UserFromContext reports the user when the request carries a
// valid access token, and nothing otherwise (no token, an invalid or
// expired one, a store outage). For pages that show more to signed-in
// users. It refuses unsafe cross-origin requests as Middleware does.
func (a *Auth) OptionalMiddleware(next http.Handler) http.Handler {
	return a.h.Middleware(next, true)
}

// CrossOrigin gives the application's own routes the cross-origin
// handling of Handler, for an SPA on another origin that calls them with
// its cookies (or a Bearer token):
//
//   - every response carries "Vary: Origin"; one to a trusted origin
//     (HTTP.TrustedOrigins, compared exactly) carries
//     Access-Control-Allow-Origin with that origin (never "*"),
//     Access-Control-Allow-Credentials and exposes Retry-After;
//   - a CORS preflight (OPTIONS with Origin and
//     Access-Control-Request-Method) is answered without calling next:
//     204 for a trusted origin asking for GET, HEAD, POST, PUT, PATCH or
//     DELETE and no header but Content-Type, Authorization, X-Auth-Mode
//     and Accept-Language; 403 problem+json with CodeCORSRefused and no
//     CORS header otherwise;
//   - an unsafe request from an untrusted origin is refused with 403
//     problem+json CodeCSRFFailed (http.CrossOriginProtection).
//
// Wrap it outside Middleware, whose 401 a preflight (which carries no
// credentials) would otherwise get, and register the route for OPTIONS
// too (a pattern without a method, or the application's whole mux):
//
//	mux.Handle("/api/orders", auth.CrossOrigin(auth.Middleware(orders)))
//
// Nested around a mux that holds Handler it adds nothing twice. It is
// safe for concurrent use.
func (a *Auth) CrossOrigin(next http.Handler) http.Handler { return a.h.CrossOrigin(next) }

// Authenticate reports the user (its public view) whose access token r
// carries: with Sessions.NativeClients an "Authorization: Bearer" header,
// which wins over the access cookie when both are sent (explicit
// credentials win; an invalid Bearer token is refused, not replaced by the
// cookie), else the access cookie.
// The token must be valid and unexpired, its session not ended (unless
// Sessions.StatelessAccessTokens), its token version the user's, and the
// user active. It has no side effect: it writes nothing and sets no
// cookie, as http.CrossOriginProtection's Check is to its Handler. A
// request that is not authenticated gets a *Problem (401, with Code
// CodeNotAuthenticated, CodeInvalidToken, CodeTokenExpired or
// CodeAccountInactive); a store that cannot answer gets its error, which
// wraps store.ErrUnavailable for an outage. It is safe for concurrent use.
func (a *Auth) Authenticate(r *http.Request) (Account, error) {
	u, _, err := a.h.Authenticate(r)
	if err != nil {
		return Account{}, err
	}
	return a.h.PublicUser(u), nil
}

// UserFromContext returns the user Middleware or OptionalMiddleware
// authenticated, in handlers behind them: its public view, without the
// stored secrets, which json.Marshal may send as it is.
func UserFromContext(ctx context.Context) (Account, bool) { return server.UserFromContext(ctx) }

// Shutdown ends the Auth's subscription to the change channel (which the
// first authenticated request started; a later one starts it again) and
// waits until the emails being sent in the background are sent, or ctx is
// done. Call it after http.Server.Shutdown.
func (a *Auth) Shutdown(ctx context.Context) error { return a.h.Shutdown(ctx) }

// AdminAction carries out one of the admin actions (AdminDisable2FA,
// AdminRevokeSessions, AdminActivate, AdminDeactivate,
// AdminResendVerification) on the user userID, exactly as the admin API
// does, and returns the user as stored. It is for operator tools such as a
// command-line program: actor names who acted (e.g. "cli:alice") in the
// EventAdminAction it emits, as the admin API names the admin's id. State
// changes are one atomic UpdateUser; AdminResendVerification mails in the
// background, so call Shutdown before the program exits. It returns an
// error wrapping store.ErrNotFound for an unknown user,
// ErrTwoFactorNotEnabled, ErrAlreadyVerified, ErrDeactivated,
// ErrUnknownAdminAction, or the store's error. It is safe for concurrent
// use.
func (a *Auth) AdminAction(ctx context.Context, actor, userID, action string) (User, error) {
	return a.h.AdminAction(ctx, nil, actor, userID, action)
}

// UserSessions returns the live sessions of the user userID (logins not
// logged out, revoked or expired), newest first, as the admin API lists
// them. It is safe for concurrent use.
func (a *Auth) UserSessions(ctx context.Context, userID string) ([]Session, error) {
	return a.h.Sessions(ctx, userID)
}

// RevokeSession ends the session sessionID of the user userID, as the
// admin API does: its tokens are refused at once, and EventSessionRevoked
// names actor. It returns an error wrapping store.ErrNotFound for an
// unknown, ended or other user's session. It is safe for concurrent use.
func (a *Auth) RevokeSession(ctx context.Context, actor, userID, sessionID string) error {
	return a.h.RevokeSession(ctx, nil, actor, userID, sessionID)
}

// RotateTOTPSecrets seals every stored TOTP secret that is under an older
// TOTP key again under the current one (the first of Keys.TOTP, or the key
// derived from Keys.Signing), and returns how many accounts it changed.
// Secrets are also re-sealed one by one as their accounts use a code; run
// this after a key rotation to finish at once, then drop the old key (from
// Keys.TOTP, or from Keys.Verification for the derived keys). It needs a
// UserStore that implements store.UserLister (every store of this module
// does) and returns ErrCannotList otherwise.
func (a *Auth) RotateTOTPSecrets(ctx context.Context) (int, error) { return a.h.RotateTOTPSecrets(ctx) }

// Errors of Auth's methods.
var (
	// ErrNotFound (store.ErrNotFound) is wrapped by the errors of
	// AdminAction, RevokeSession and the stores for an unknown user or
	// session.
	ErrNotFound = store.ErrNotFound
	// ErrUnavailable (store.ErrUnavailable) is wrapped by the errors of
	// Authenticate and of every store call when a store cannot answer.
	ErrUnavailable = store.ErrUnavailable
	// ErrCannotList is returned by RotateTOTPSecrets for a UserStore that
	// does not implement store.UserLister.
	ErrCannotList = server.ErrCannotList
	// ErrTwoFactorNotEnabled is returned by AdminAction(AdminDisable2FA)
	// for a user with neither TOTP nor a passkey; nothing is written.
	ErrTwoFactorNotEnabled = server.ErrTwoFactorNotEnabled
	// ErrAlreadyVerified is returned by AdminAction(AdminResendVerification)
	// for an account whose email is verified.
	ErrAlreadyVerified = server.ErrAlreadyVerified
	// ErrDeactivated is returned by AdminAction(AdminResendVerification)
	// for a deactivated account: activate it instead.
	ErrDeactivated = server.ErrDeactivated
	// ErrUnknownAdminAction is returned by AdminAction for an action it
	// does not know.
	ErrUnknownAdminAction = server.ErrUnknownAdminAction
)

// OpenAPIDocument returns the OpenAPI 3.1 document of the auth API and the
// admin API, with the application's profile fields (Config.Profile) in the
// signup request and the user's profile: a copy of what Handler serves at
// GET /openapi.json. It is safe for concurrent use.
func (a *Auth) OpenAPIDocument() []byte { return a.h.OpenAPIDocument() }

// Package authsys gives a net/http server a complete account system:
// signup with email verification, login with JWTs in HttpOnly cookies,
// silent refresh, logout, password reset and change, email change, TOTP
// two-factor authentication with backup codes, rate limits and session
// invalidation.
//
// Build an Auth with New, mount Handler under /api/auth, and protect the
// application's own routes with Middleware:
//
//	auth, err := authsys.New(authsys.Config{...})
//	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
//	mux.Handle("GET /api/orders", auth.Middleware(orders))
package authsys

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net/http"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
)

// Type aliases re-export the interfaces and values an application touches,
// so it imports one package.
type (
	// User is one account; see store.User.
	User = store.User
	// UserStore keeps accounts; see store.UserStore.
	UserStore = store.UserStore
	// PendingStore keeps short-lived state; see store.PendingStore.
	PendingStore = store.PendingStore
	// UserLister is the optional UserStore capability the admin API's
	// list and RotateTOTPSecrets need; see store.UserLister.
	UserLister = store.UserLister
	// RateStore is the optional PendingStore capability of GCRA rate
	// limits; see store.RateStore.
	RateStore = store.RateStore
	// Mailer sends email; see mail.Mailer.
	Mailer = mail.Mailer
	// Message is one email; see mail.Message.
	Message = mail.Message
	// Event is one security event; see handlers.Event.
	Event = handlers.Event
	// Problem is an RFC 9457 problem detail; see handlers.Problem.
	Problem = handlers.Problem
)

// Auth is a configured account system. It is safe for concurrent use; two
// Auth values in one process never interfere.
type Auth struct {
	h *handlers.Handlers
	// hasher is also reached by tests, to watch the hashing bound.
	hasher *password.Hasher
}

// New validates cfg, fills in its defaults and returns an Auth. An invalid
// field gives a *ConfigError naming it.
func New(cfg Config) (*Auth, error) {
	c := cfg.withDefaults()
	p, err := c.validate()
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(*c.PasswordParams, c.MaxConcurrentHashes)
	h := handlers.New(handlers.Deps{
		Users: c.Users, Pending: c.Pending, Mailer: c.Mailer, Templates: c.Templates,
		Tokens:  p.tokens,
		Hasher:  hasher,
		Limiter: ratelimit.New(c.Pending, c.KeyPrefix+"rl:"),
		Limits: handlers.Limits{
			Login: p.limits[LimitLogin], Signup: p.limits[LimitSignup],
			PasswordReset: p.limits[LimitPasswordReset], TwoFactor: p.limits[LimitTwoFactor],
			TwoFactorDaily: p.limits[LimitTwoFactorDaily],
		},
		ClientIP: p.ips, CSRF: p.csrf, Logger: c.Logger, Now: c.Now, Rand: c.Rand,
		Cookies: handlers.Cookies{
			AccessName: c.AccessCookieName, RefreshName: c.RefreshCookieName, Domain: c.CookieDomain,
			Secure: !c.InsecureCookies, SameSite: c.SameSite, RefreshPath: c.RefreshCookiePath,
		},
		AllowBearer: c.AllowBearer,
		FrontendURL: p.frontend, VerifyAccountPath: c.VerifyAccountPath,
		PasswordResetPath: c.PasswordResetPath, EmailChangePath: c.EmailChangePath,
		FromEmail: c.FromEmail, AppName: c.AppName,
		VerificationTTL: c.VerificationTokenTTL, PasswordResetTTL: c.PasswordResetTokenTTL,
		PendingEmailTTL: c.PendingEmailTTL, PendingSessionTTL: c.PendingSessionTTL,
		RefreshReuseGrace: c.RefreshReuseGrace, KeyPrefix: c.KeyPrefix,
		PendingSessionPrefix: c.PendingSessionPrefix, UpdateSessionAuthHash: *c.UpdateSessionAuthHash, CheckRevokedSessions: *c.CheckRevokedSessions,
		RequestTimeout: c.RequestTimeout, MailTimeout: c.MailTimeout,
		TOTPIssuer: c.TOTPIssuer, TOTPCipher: p.cipher, BackupCodesCount: c.BackupCodesCount,
		IsAdmin: c.IsAdmin, OnEvent: c.OnEvent, RenderProblem: c.RenderProblem,
	})
	return &Auth{h: h, hasher: hasher}, nil
}

// derive returns a 32-byte key for purpose derived from secret (HKDF-SHA256).
func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("authsys: hkdf: %v", err)) // unreachable: 32 bytes is within HKDF's limit
	}
	return k
}

// Handler returns the auth API. Mount it with the mount prefix stripped:
//
//	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
//
// Every unsafe request passes http.CrossOriginProtection first.
func (a *Auth) Handler() http.Handler { return a.h }

// AdminHandler returns the admin API, for users for whom Config.IsAdmin is
// true. Mount it with its prefix stripped, e.g. under /api/admin/auth/.
func (a *Auth) AdminHandler() http.Handler { return a.h.Admin() }

// Middleware lets through only requests with a valid access token cookie
// (or Bearer header when Config.AllowBearer), whose token version matches
// the user's and whose user is active; the user is then available through
// UserFromContext. Others get 401 problem+json; a store outage gets 503 and
// keeps the cookies. It makes one UserStore lookup per request.
func (a *Auth) Middleware(next http.Handler) http.Handler { return a.h.Middleware(next) }

// UserFromContext returns the user Middleware authenticated, in handlers
// behind it.
func UserFromContext(ctx context.Context) (User, bool) { return handlers.UserFromContext(ctx) }

// Shutdown waits until the emails being sent in the background are sent,
// or ctx is done. Call it after http.Server.Shutdown.
func (a *Auth) Shutdown(ctx context.Context) error { return a.h.Shutdown(ctx) }

// RotateTOTPSecrets seals every stored TOTP secret that is under an older
// TOTP key again under the current one (the first of Config.TOTPKeys, or
// the key derived from SigningKey), and returns how many accounts it
// changed. Secrets are also re-sealed one by one as their accounts use a
// code; run this after a key rotation to finish at once, then drop the old
// key (from TOTPKeys, or from VerificationKeys for the derived keys). It
// needs a UserStore that implements UserLister (every store of this
// module does) and returns ErrCannotList otherwise.
func (a *Auth) RotateTOTPSecrets(ctx context.Context) (int, error) { return a.h.RotateTOTPSecrets(ctx) }

// ErrCannotList is returned by RotateTOTPSecrets for a UserStore that does
// not implement UserLister.
var ErrCannotList = handlers.ErrCannotList

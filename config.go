package authsys

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/authsys-go/authsys/internal/clientip"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/internal/server"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

// Config configures an Auth. Users, Pending, Mailer, Keys.Signing.Secret,
// Links.FrontendURL and Mail.From are required; every other field is
// optional, and its zero value means the default given at the end of its
// comment. Settings are grouped by concern; each group fills in its own
// defaults and validates itself, and New reports the first invalid field
// as a *ConfigError.
type Config struct {
	// Keys sign and verify tokens and encrypt TOTP secrets. Keys.Signing is
	// required.
	Keys Keys
	// Users stores accounts. Required: sqlite.Open, postgres.New,
	// memory.New, or the application's own UserStore.
	Users UserStore
	// Pending stores short-lived state (pending 2FA logins, email changes,
	// rate limits), and the session records when Users does not
	// implement store.SessionStore. Required: memory.New() on a single instance, Redis (or the
	// SQL stores) when several run.
	Pending PendingStore
	// Mailer sends the library's emails. Required: mail.Console in
	// development, an SMTP mailer (mail/smtp) in production.
	Mailer Mailer
	// Mail configures the emails: sender, application name, templates.
	// Mail.From is required.
	Mail Mail
	// Locales adds languages to the messages and emails, and picks each
	// request's. Default: English only.
	Locales Locales
	// Links configures the frontend pages that email links open.
	// Links.FrontendURL is required.
	Links Links
	// Sessions configures tokens and sessions: lifetimes, refresh-token
	// rotation, revocation.
	Sessions Sessions
	// Cookies configures the two token cookies.
	Cookies Cookies
	// RateLimits configures the rate limits of the public endpoints.
	// Default: the limits listed on RateLimits.
	RateLimits RateLimits
	// TwoFactor configures TOTP two-factor authentication.
	TwoFactor TwoFactor
	// Passkeys configures passkeys (WebAuthn): a login without a password,
	// a second factor after one, re-authentication. Off unless
	// Passkeys.RPID is set.
	Passkeys Passkeys
	// Passwords configures password hashing and the rules of new
	// passwords.
	Passwords Passwords
	// HTTP configures what the library trusts of incoming requests:
	// cross-origin callers, reverse proxies, deadlines.
	HTTP HTTP
	// Profile declares the application's own account fields, which signup
	// accepts and the user's profile shows. Default none.
	Profile Profile
	// Hooks let the application take part: who is an admin, security
	// events, the rendering of errors, vetoes of signups and logins.
	Hooks Hooks
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Key is a secret identified by an ID, for rotation: a JWT's "kid", or the
// key id stored with an encrypted TOTP secret.
type Key struct {
	// ID names the key; it appears in tokens and ciphertexts: 1 to 64
	// characters from A-Z a-z 0-9 - _. Default "k1" for Keys.Signing;
	// required elsewhere.
	ID string
	// Secret is at least 32 random bytes.
	Secret []byte
	// Algorithm is the JWT algorithm of a signing or verification key:
	// "HS256" (HMAC-SHA256, only holders of the key verify) or "EdDSA"
	// (Ed25519, with a key pair derived from Secret; the public key is
	// served at GET /jwks.json so other services can verify access tokens
	// without being able to sign them). Each kid is pinned to its
	// algorithm. TOTP keys take none. Default "HS256".
	Algorithm string
}

// Keys are the Auth's secrets.
type Keys struct {
	// Signing signs JWTs and one-time tokens. Its Secret is required.
	Signing Key
	// Verification are earlier signing keys still accepted, so keys rotate
	// without logging everyone out. Default none.
	Verification []Key
	// TOTP encrypt TOTP secrets at rest (AES-256-GCM); the first encrypts,
	// all decrypt. A secret under an older key is sealed again under the
	// first whenever its account uses a code, and Auth.RotateTOTPSecrets
	// re-seals all of them, after which the old key can go. Default: keys
	// derived (HKDF) from Signing and from each Verification key, with
	// their IDs, so TOTP keys rotate with the signing keys. Backup codes are
	// keyed by each account's TOTP secret, so no key rotation affects them.
	TOTP []Key
}

// Mail configures the library's emails.
type Mail struct {
	// From is the sender of every email: a plain address. Required.
	From string
	// AppName names the application in emails and, unless
	// TwoFactor.Issuer is set, in authenticator apps. Default "AuthSystem".
	AppName string
	// Templates overrides the email templates. Default: the built-in ones.
	Templates *mail.Templates
	// Timeout bounds each background send. Default 30 seconds.
	Timeout time.Duration
	// SkipNotices lists the security notices not to send, by kind:
	// mail.KindPasswordChanged, KindPasswordResetDone, KindTwoFactorEnabled,
	// KindTwoFactorDisabled, KindBackupCodesRenewed, KindNewDeviceSignIn,
	// KindPasskeyAdded, KindPasskeyRemoved, KindEmailChangeRequested and
	// KindEmailChangedNotice. The first eight go to the account's address
	// after the change they name, with a password reset link for an owner
	// who did not make it;
	// KindEmailChangeRequested goes to the current address when a change
	// is requested, with such a link; KindEmailChangedNotice goes to the
	// old address once the change is done. Default none: every notice is
	// sent.
	SkipNotices []string
}

// Locales configures the languages of what the library says: problem
// details, field error messages, success messages ({"message", "code"})
// and emails. Every message has a stable key; English ships, and
// DefaultMessages lists every key with its English text, for translators.
// Codes (problem, field error and success codes) are the same in every
// language. See docs/i18n.md.
//
// The language of a request's answer is Locale's choice, else the best
// match of its Accept-Language header among the configured languages
// (English when none is close). An answer whose messages came from
// another language than English carries a Content-Language header. An
// email is in the language of its recipient: Locale with the recipient's
// account. A message a language lacks is said in English; an email kind
// whose template a language lacks uses Mail.Templates (or the built-in,
// English, templates).
type Locales struct {
	// Messages are the catalogs of other languages, and overrides of the
	// English one: language tag (BCP 47, e.g. "fr", "pt-BR") → message
	// key → text. A text keeps the {placeholders} of its English text,
	// e.g. {min} in "field.password_too_short". Messages["en"] overrides
	// English texts and may declare the application's own field error
	// codes as "field.<code>" keys, which the other languages then
	// translate: a FieldError the application returns with an empty
	// Message gets the text of its code. New reports an unknown tag or
	// key, an empty text, or placeholders that differ from English's.
	// Default none.
	Messages map[string]map[string]string
	// Mail are the email templates of other languages, by language tag;
	// the empty parts of a Template that is set fall back to the
	// built-in (English) ones, and a kind left zero to Mail.Templates.
	// English's are Mail.Templates, so "en" is refused. Default none.
	Mail map[string]*mail.Templates
	// Locale, when set, returns the language (a tag, e.g. "fr") of what
	// is said to the account a in answer to r: the zero Account for an
	// anonymous request, the recipient's account for an email (so a
	// per-user setting, e.g. from a.Profile, also picks the language of a
	// notice mailed after an administrator's action). Its result is
	// matched against the configured languages as Accept-Language would be
	// ("fr-CA" picks "fr", a language without a catalog English); "" (or
	// a string that is not a tag) means the default choice, the best
	// match of r's Accept-Language. It must be fast and safe for
	// concurrent use. Default: the Accept-Language match.
	Locale func(r *http.Request, a Account) string
}

// DefaultMessages returns a copy of the English message catalog: every
// message key the library uses, with its English text and
// {placeholders}. Keys are stable: "field.<code>" for each field error
// code, the success codes ("password.changed"), and the keys of problem
// details (Problem.DetailKey). Translate these for Locales.Messages.
func DefaultMessages() map[string]string { return server.DefaultMessages() }

// Links configures the links in emails. They always point at FrontendURL,
// never at the request's Host or X-Forwarded-Host.
type Links struct {
	// FrontendURL is the absolute http(s) URL of the application whose
	// pages receive email links. Required.
	FrontendURL string
	// VerifyAccountPath is the page that posts uid and token to
	// /verify-account/. Default "/verify-account".
	VerifyAccountPath string
	// PasswordResetPath is the page that posts uid, token and the new
	// password to /password-reset-confirm/. Default "/reset-password".
	PasswordResetPath string
	// EmailChangePath is the page that posts the token to
	// /change-email-confirm/. Default "/confirm-email-change".
	EmailChangePath string
	// VerifyAccountTTL is the life of an email verification link. Default
	// 3 days.
	VerifyAccountTTL time.Duration
	// PasswordResetTTL is the life of a password reset link. Default 1 hour.
	PasswordResetTTL time.Duration
	// EmailChangeTTL is how long a requested email change (and its link)
	// waits for confirmation. Default 1 hour.
	EmailChangeTTL time.Duration
}

// Sessions configures tokens and sessions. A session is one login: an
// access token and a refresh token that rotates on every use.
type Sessions struct {
	// AccessTTL is the life of an access token. Default 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the life of a refresh token, and so how long a session
	// lives without a refresh (its idle timeout). Default 7 days.
	RefreshTTL time.Duration
	// AbsoluteTTL is a session's life from its login, whatever its
	// refreshes; then its user logs in again. Default 30 days (the NIST
	// 800-63B bound for AAL1).
	AbsoluteTTL time.Duration
	// RefreshReuseGrace is how long a rotated refresh token keeps giving
	// the same successor (two tabs refreshing at once stay logged in);
	// after it, a reuse revokes the session. Negative disables the grace.
	// Default 10 seconds.
	RefreshReuseGrace time.Duration
	// ClockSkew is how far the clocks of the instances that share tokens
	// may disagree: a token issued by an instance whose clock is ahead is
	// not refused as issued in the future, and expiry allows the same
	// margin. Negative means none. Default 5 seconds.
	ClockSkew time.Duration
	// Issuer and Audience are the JWT "iss" and "aud". Default "authsys".
	Issuer, Audience string
	// NativeClients serves clients that keep their tokens themselves (a
	// mobile or desktop app, a command-line tool) instead of in cookies:
	// Handler, AdminHandler, Middleware and Authenticate accept
	// "Authorization: Bearer <access token>", which wins over the access
	// cookie when both are sent; and a request to Handler or AdminHandler
	// with the header "X-Auth-Mode: token" runs in token mode, where no
	// cookie is read or set: login, 2FA verification, refresh and every
	// answer that renews the session return the tokens in a "tokens"
	// member of the JSON body, and refresh, logout and re-authentication
	// take the refresh token from the body. Without it, a token-mode
	// request is refused (400 token_mode_disabled) and Bearer headers are
	// ignored. See docs/native-clients.md. Default false.
	NativeClients bool
	// LogoutOnPasswordChange logs out the client that changed its password
	// too; every other session of the account dies either way. Default
	// false: that client gets fresh cookies and stays logged in.
	LogoutOnPasswordChange bool
	// StatelessAccessTokens skips the check that an access token's session
	// has not ended (logged out, or revoked), saving the session record's
	// lookup (a cache hit, or one SessionStore read); an access token
	// then stays valid until it expires after a logout, as in SimpleJWT.
	// Logout-all, password and email changes and deactivation end tokens
	// at once either way (the token version). Default false: checked.
	StatelessAccessTokens bool
	// KeyPrefix prefixes every key the library puts in Pending. It does not
	// namespace the session records a pending store keeps when Users has no
	// SessionStore (store/redis keeps them under its own prefix): give
	// applications that share such a store their own store prefix
	// (redis.WithPrefix). Default "auth:".
	KeyPrefix string
	// CacheSize bounds the per-instance cache of what authentication needs
	// (users, session records and verified access tokens, each up to
	// CacheSize entries), which lets an authenticated request touch no
	// store in steady state. Negative turns the cache off. Default 10,000.
	CacheSize int
	// CacheMaxAge is how long a cached user or session serves. With a
	// change channel (a store that implements store.ChangeNotifier: the
	// user store's, else the pending store's), every change the library
	// makes, on any instance, drops the cached entry at once, and
	// PostgreSQL announces direct SQL updates of its tables too; while the
	// channel is down nothing is served from the cache. CacheMaxAge then
	// bounds how long a change the channel never announced (a write to the
	// user store outside the library, on a store without triggers) may go
	// unseen; zero means 1 minute with the user store's channel, and 5
	// seconds with the pending store's, which hears only what the library
	// announces (a command-line tool writing to a shared SQLite file is
	// seen after it). Without a channel the cache serves users
	// and sessions only when CacheMaxAge is set, and then a revoked session
	// or a deactivated account may still be accepted on other instances
	// for up to CacheMaxAge: the staleness the application accepts.
	// Verified tokens are cached either way (they depend on no stored
	// state).
	CacheMaxAge time.Duration
	// ReauthWindow is how long a session stays fresh after its user showed
	// their credentials (the password, and a code when 2FA is on) at login
	// or at POST /reauthenticate/. Sensitive actions need a fresh session
	// and answer 403 reauthentication_required otherwise: 2FA setup,
	// enable and disable, listing and regenerating backup codes, an email
	// change, revoking the other sessions, and the admin API's actions.
	// Default 10 minutes.
	ReauthWindow time.Duration
}

// Cookies configures the access and refresh token cookies. Both are
// HttpOnly.
type Cookies struct {
	// AccessName names the access token cookie. Default "access_token".
	AccessName string
	// RefreshName names the refresh token cookie. Default "refresh_token".
	RefreshName string
	// TrustedDeviceName names the cookie of a trusted device (see
	// TwoFactor.TrustedDeviceTTL), scoped like the refresh cookie. Default
	// "trusted_device".
	TrustedDeviceName string
	// RefreshPath scopes the refresh cookie: the path Handler is mounted
	// at. Default "/api/auth/".
	RefreshPath string
	// Domain is the cookies' Domain attribute. Default none (host-only
	// cookies).
	Domain string
	// Insecure drops the Secure attribute, for plain-HTTP development only.
	// Default false: cookies are Secure.
	Insecure bool
	// SameSite is the cookies' SameSite mode. Default http.SameSiteLaxMode.
	SameSite http.SameSite
}

// Rate is a rate limit: a burst of N requests at once, then one request
// every Per/N. The zero Rate means the limit's default.
type Rate struct {
	// N is how many requests are allowed at once, and per Per on average.
	N int
	// Per is the period over which N requests are allowed.
	Per time.Duration
	// Off disables the limit (N and Per must then be zero).
	Off bool
}

// String writes r as N/Per, e.g. "10/1m0s", or "off".
func (r Rate) String() string {
	if r.Off {
		return "off"
	}
	return fmt.Sprintf("%d/%v", r.N, r.Per)
}

// RateLimits are the rate limits of the public endpoints. Each applies per
// client IP (IPv6 by /64) and per account (the normalized email; the user
// for 2FA), except TwoFactorDaily, per account only, and Refresh, per
// session (and per client IP for refused tokens). A rate is enforced by
// GCRA (generic cell rate algorithm): a burst of N, then one request every
// Per/N; a refused request (429 with Retry-After, the seconds until one
// would be allowed) spends nothing. The state is kept in Pending, in one
// atomic round trip per check, so that instances sharing it share each
// budget; a Pending that does not implement store.RateStore gets fixed
// windows of Per on IncrPending counters instead.
type RateLimits struct {
	// Login limits POST /login/. Default 10 per minute.
	Login Rate
	// Signup limits POST /signup/ and verification resends. Default 5 per
	// minute.
	Signup Rate
	// PasswordReset limits POST /password-reset/. Default 5 per minute.
	PasswordReset Rate
	// TwoFactor limits 2FA code attempts. Default 10 per minute.
	TwoFactor Rate
	// TwoFactorDaily is a second, slower 2FA budget, per account only:
	// TwoFactor's 10/min alone would let someone who has the password try
	// 14,400 codes a day (a few percent chance of guessing one); 50/day
	// caps that near 0.03 %. Default 50 per day.
	TwoFactorDaily Rate
	// Refresh limits POST /refresh/: a genuine refresh token spends its
	// session's budget (a client refreshes once per Sessions.AccessTTL; a
	// loop is refused), a refused one (forged, expired) the client IP's, so
	// that one client cannot use up the budget of everyone behind its
	// address. Default 30 per minute.
	Refresh Rate
	// MailDaily caps each kind of mail (verification, password reset,
	// email change, notices) to one address, on top of the per-minute
	// limits of the requests that send them: a refused mail is not sent,
	// the request's answer is unchanged (it reveals nothing), and a
	// throttled event with reason mail_daily is emitted. Default 10 per
	// day.
	MailDaily Rate
	// Off disables every limit, for tests or a deployment that limits
	// upstream. Default false.
	Off bool
}

// TwoFactor configures TOTP two-factor authentication.
type TwoFactor struct {
	// Issuer names the service in authenticator apps. Default Mail.AppName.
	Issuer string
	// BackupCodes is how many backup codes are issued, 1 to 100. Default
	// 10.
	BackupCodes int
	// PendingLoginTTL is the life of the pending login between a correct
	// password and the 2FA code. Default 5 minutes.
	PendingLoginTTL time.Duration
	// Rand is the source of randomness of TOTP secrets and backup codes.
	// Default crypto/rand.Reader.
	Rand io.Reader
	// TrustedDeviceTTL is how long a browser trusted at
	// /2fa/verify-login/ with "remember_device": true skips the second
	// factor on later logins (the password is still needed). A trusted
	// device is listed and revoked next to the sessions, and ends with
	// every session: a password change or reset, disabling 2FA,
	// logout-all, revoking the others (the current browser's included). A
	// login it lets through is not fresh (see Sessions.ReauthWindow). Negative turns the feature off.
	// Default 30 days.
	TrustedDeviceTTL time.Duration
}

// PasswordParams are argon2id cost parameters. A zero field means OWASP's
// value, given at its end.
type PasswordParams struct {
	// Memory is the memory cost in KiB, at least 8 × Parallelism and at
	// most 1 GiB. Default 19456 (19 MiB).
	Memory uint32
	// Iterations is the time cost (passes over memory), at most 256, with
	// Memory × Iterations at most 4 GiB·passes. Default 2.
	Iterations uint32
	// Parallelism is the number of lanes (and goroutines) per hash.
	// Default 1.
	Parallelism uint8
	// SaltLength is the length of the random salt in bytes, 8 to 1024.
	// Default 16.
	SaltLength uint32
	// KeyLength is the length of the derived key in bytes, 4 to 1024.
	// Default 32.
	KeyLength uint32
}

// Passwords configures password hashing and the rules of new passwords.
// New hashes are argon2id; bcrypt and Django's formats are verified too and
// rehashed on login.
type Passwords struct {
	// Params are the argon2id parameters of new hashes. Default OWASP's:
	// 19 MiB, 2 iterations, 1 lane.
	Params PasswordParams
	// MaxConcurrentHashes bounds password hashes computed at once; others
	// wait within the request deadline, then get 503. Each running argon2id
	// hash holds Params.Memory, so this also bounds the memory a login
	// flood can take. Default GOMAXPROCS.
	MaxConcurrentHashes int
	// Policy decides whether a new password is acceptable: at signup,
	// password reset confirmation and password change. It returns nil to
	// accept it; a *FieldError, or several joined with errors.Join, to
	// refuse it with 400 validation_failed, the field errors listed under
	// the request's password field ("password" or "new_password"); a
	// *Problem to answer that problem as it is; any other error fails the
	// request like a store error (503 service_unavailable when it wraps
	// ErrUnavailable or a context error, 500 internal_error otherwise;
	// logged, never shown). Whatever the policy, the password must be
	// present and at most 1024 bytes (the bound that protects the hasher):
	// those checks come first, and Policy sees only passwords within them.
	// It is called before the request's rate limit and, at signup, for
	// every request alike, so it must not reveal whether the address has
	// an account. To add rules to the default ones, call
	// DefaultPasswordPolicy from the policy. Default DefaultPasswordPolicy.
	Policy func(ctx context.Context, p PasswordCandidate) error
	// Breached, when set, is asked about every new password that Policy
	// accepts; one it reports breached is refused with the field error
	// password_breached, and an error from it answers 503
	// service_unavailable. pwned.Checker asks the Pwned Passwords range
	// API of Have I Been Pwned without sending the password or its hash.
	// Default nil: no breach check.
	Breached BreachChecker
}

// HTTP configures what the library trusts of incoming requests.
type HTTP struct {
	// TrustedOrigins are origins ("https://app.example.com") allowed to
	// make cross-origin requests, for an SPA (or a web view) on another
	// origin: their unsafe requests pass the CSRF check, and Handler,
	// AdminHandler and Auth.CrossOrigin answer their CORS requests and
	// preflights with credentials allowed (the origin reflected, never
	// "*"). Each is written as browsers send the Origin header: scheme and
	// host in lower case, a port only when it is not the scheme's default,
	// nothing after the host. Default none: same-origin only.
	TrustedOrigins []string
	// TrustedProxies are CIDRs ("10.0.0.0/8") or addresses of reverse
	// proxies whose X-Forwarded-For is believed when finding the client IP
	// that rate limits count: only a request whose connection comes from
	// one of them has its X-Forwarded-For read, right to left, skipping
	// trusted hops. The entry "unix" trusts a proxy connected over a Unix
	// socket (a peer without an IP address). Default none: the
	// connection's address is the client's. A request without a client IP
	// (an untrusted Unix-socket peer) has only the account budgets.
	TrustedProxies []string
	// RequestTimeout bounds each request's store and hashing work, so a
	// hung dependency cannot pin goroutines. Default 10 seconds.
	RequestTimeout time.Duration
}

// Hooks let the application take part in what the library does. Each is
// called synchronously and must be safe for concurrent use.
type Hooks struct {
	// IsAdmin decides who may use AdminHandler, from the account's public
	// view (without its Private profile fields: keep what decides admin
	// rights in the application's own store). Default: Account.IsStaff.
	IsAdmin func(Account) bool
	// OnEvent receives every security event (also logged). It must be
	// fast. Default none.
	OnEvent func(Event)
	// RenderProblem, when set, writes every error response of Handler,
	// AdminHandler and the middlewares instead of the default
	// application/problem+json body, for an application with an error
	// format of its own. The status, the stable Code, the field Errors and
	// the Retry-After header (already set on w) are the contract; it must
	// write the status it is given and must not show p.Err, the internal
	// cause. p.Detail and the field error messages are already in the
	// request's language (see Locales), and p.DetailKey names the
	// message, for an application that translates itself. Default: RFC
	// 9457 problem details.
	RenderProblem func(w http.ResponseWriter, r *http.Request, p *Problem)
	// BeforeSignup may refuse a signup (invite-only, banned domains),
	// after its fields are valid (Profile's Validate functions included)
	// and its rate limit passed, and before the password is hashed or
	// anything is looked up or stored. It sees the normalized address and
	// the profile values (the Private ones too; changes to s are
	// ignored), and is called alike whether or not the address has an
	// account, so that its answer tells nothing about that. A nil error
	// lets the signup go on; a *Problem (see FieldProblem) is rendered as
	// it is; a *FieldError (or several joined) as field errors of
	// "email"; any other error fails the request (500, or 503 when it
	// wraps ErrUnavailable). Default none.
	BeforeSignup func(r *http.Request, s Signup) error
	// BeforeLogin may refuse a login, after the password was found right
	// (or, for a login with a passkey alone, the passkey accepted) and the
	// account active, and before the second factor is asked for
	// (or a trusted device skips it) and before a session starts: it runs
	// once per login, for logins with and without two-factor
	// authentication alike, never for a refresh or a re-authentication.
	// It sees the account's public view. Its error is rendered as
	// BeforeSignup's, and the refusal emits EventLoginFailed with reason
	// "vetoed". Default none.
	BeforeLogin func(r *http.Request, a Account) error
}

// DefaultPasswordParams returns OWASP's argon2id parameters, the ones a zero
// PasswordParams means.
func DefaultPasswordParams() PasswordParams { return PasswordParams(password.DefaultParams()) }

// ConfigError reports an invalid Config field. It never quotes a secret.
type ConfigError struct {
	// Field names the field by its path, with an index when it is one
	// element ("Keys.Verification[1]", "RateLimits.Login").
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *ConfigError) Error() string { return "authsys: Config." + e.Field + ": " + e.Reason }

// Validate reports the first invalid field of c (after defaults) as a
// *ConfigError. It checks exactly what New checks, so a deployment can
// validate its configuration without starting anything.
func (c Config) Validate() error {
	_, err := c.build()
	return err
}

// bad returns a *ConfigError for field.
func bad(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }

// defaultDuration sets *d to v when it is zero.
func defaultDuration(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// build fills in c's defaults, validates every group and returns what the
// server needs, so that New and Validate check exactly the same things.
func (c Config) build() (server.Deps, error) {
	var d server.Deps
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Sessions.defaults()
	if err := c.Sessions.validate(); err != nil {
		return d, err
	}
	var err error
	if d.Tokens, d.TOTPCipher, err = c.Keys.build(c.Sessions, c.Now); err != nil {
		return d, err
	}
	switch {
	case c.Users == nil:
		return d, bad("Users", "required")
	case c.Pending == nil:
		return d, bad("Pending", "required (memory.New() on one instance, Redis when several run)")
	case c.Mailer == nil:
		return d, bad("Mailer", "required (mail.Console in development)")
	}
	c.Mail.defaults()
	c.Links.defaults()
	c.Cookies.defaults()
	c.TwoFactor.defaults(c.Mail.AppName)
	c.Passwords.defaults()
	c.HTTP.defaults()
	if c.Hooks.IsAdmin == nil {
		c.Hooks.IsAdmin = func(a Account) bool { return a.IsStaff }
	}
	if err := c.Mail.validate(); err != nil {
		return d, err
	}
	if field, reason := server.CheckLocales(server.Locales(c.Locales)); field != "" {
		return d, bad("Locales."+field, reason)
	}
	if d.FrontendURL, err = c.Links.build(); err != nil {
		return d, err
	}
	if err := c.Cookies.validate(); err != nil {
		return d, err
	}
	if d.Limits, err = c.RateLimits.build(); err != nil {
		return d, err
	}
	if err := c.TwoFactor.validate(); err != nil {
		return d, err
	}
	if err := c.Passwords.validate(); err != nil {
		return d, err
	}
	c.Passkeys.defaults(c.Mail.AppName, d.FrontendURL)
	if d.PasskeyStore, d.WebAuthn, err = c.Passkeys.build(c.Users); err != nil {
		return d, err
	}
	if d.ClientIP, d.CSRF, err = c.HTTP.build(); err != nil {
		return d, err
	}
	if d.Profile, d.OpenAPI, err = c.Profile.build(); err != nil {
		return d, err
	}
	d.Users, d.Pending, d.Mailer = c.Users, c.Pending, c.Mailer
	if ss, ok := c.Users.(store.SessionStore); ok {
		d.SessionStore = ss
	} else if ss, ok := c.Pending.(store.SessionStore); ok {
		d.SessionStore, d.SessionsVolatile = ss, true
	} else {
		return d, bad("Users", "implements no store.SessionStore, and neither does Pending: one of them must keep the session records (every store of this module does)")
	}
	if n, ok := c.Users.(store.ChangeNotifier); ok {
		d.Notifier = n
	} else if n, ok := c.Pending.(store.ChangeNotifier); ok {
		d.Notifier, d.NotifierElsewhere = n, true
	}
	d.Logger, d.Now = c.Logger, c.Now
	d.Hasher = password.NewHasher(password.Params(c.Passwords.Params), c.Passwords.MaxConcurrentHashes)
	d.PasswordPolicy, d.Breached = c.Passwords.policy(), c.Passwords.Breached
	d.Limiter = ratelimit.New(c.Pending, session.NewKeys(c.Sessions.KeyPrefix).RateLimits())
	d.Mail = server.Mail(c.Mail)
	d.Locales = server.Locales(c.Locales)
	d.Links = server.Links(c.Links)
	d.Sessions = server.Sessions(c.Sessions)
	d.Cookies = server.Cookies(c.Cookies)
	d.TwoFactor = server.TwoFactor(c.TwoFactor)
	d.Passkeys = server.Passkeys(c.Passkeys)
	d.HTTP = server.HTTP(c.HTTP)
	d.Hooks = server.Hooks(c.Hooks)
	return d, nil
}

// derive returns a 32-byte key for purpose derived from secret (HKDF-SHA256).
func derive(secret []byte, purpose string) []byte {
	k, err := hkdfKey(secret, purpose)
	if err != nil {
		panic(fmt.Sprintf("authsys: hkdf: %v", err)) // unreachable: 32 bytes is within HKDF's limit
	}
	return k
}

func (k Keys) build(s Sessions, now func() time.Time) (*tokens.Manager, *totp.Cipher, error) {
	k.Signing.ID = cmp.Or(k.Signing.ID, "k1")
	k.Signing.Algorithm = cmp.Or(k.Signing.Algorithm, tokens.HS256)
	switch {
	case len(k.Signing.Secret) == 0:
		return nil, nil, bad("Keys.Signing.Secret", "required (at least 32 random bytes)")
	case len(k.Signing.Secret) < 32:
		return nil, nil, bad("Keys.Signing.Secret", fmt.Sprintf("%d bytes is too short; use at least 32 random bytes", len(k.Signing.Secret)))
	case !validAlgorithm(k.Signing.Algorithm):
		return nil, nil, bad("Keys.Signing.Algorithm", fmt.Sprintf("%q: want HS256 or EdDSA", k.Signing.Algorithm))
	case !validKeyID(k.Signing.ID):
		return nil, nil, bad("Keys.Signing.ID", fmt.Sprintf("%q is not 1 to 64 characters from A-Z a-z 0-9 - _", k.Signing.ID))
	}
	seen := map[string]bool{k.Signing.ID: true}
	for i, v := range k.Verification {
		field := fmt.Sprintf("Keys.Verification[%d]", i)
		switch {
		case !validKeyID(v.ID) || len(v.Secret) < 32:
			return nil, nil, bad(field, "needs an ID of 1 to 64 characters from A-Z a-z 0-9 - _ and at least 32 bytes")
		case seen[v.ID]:
			return nil, nil, bad(field, fmt.Sprintf("ID %q is used twice (Keys.Signing included)", v.ID))
		case !validAlgorithm(v.Algorithm):
			return nil, nil, bad(field, fmt.Sprintf("algorithm %q: want HS256 or EdDSA", v.Algorithm))
		}
		seen[v.ID] = true
	}
	for i, v := range k.TOTP {
		field := fmt.Sprintf("Keys.TOTP[%d]", i)
		if v.ID == "" || len(v.Secret) < 32 {
			return nil, nil, bad(field, "needs an ID and at least 32 bytes")
		}
		if v.Algorithm != "" {
			return nil, nil, bad(field, "has an Algorithm; TOTP keys are AES keys and take none")
		}
	}
	signing := append([]Key{k.Signing}, k.Verification...)
	tk := make([]tokens.Key, 0, len(signing))
	for _, v := range signing {
		tk = append(tk, tokens.Key{ID: v.ID, Secret: v.Secret, Algorithm: v.Algorithm})
	}
	tm, err := tokens.NewManager(tokens.Options{
		Keys: tk, Issuer: s.Issuer, Audience: s.Audience,
		AccessTTL: s.AccessTTL, RefreshTTL: s.RefreshTTL, Now: now, Leeway: s.ClockSkew,
	})
	if err != nil {
		return nil, nil, bad("Keys.Signing", err.Error())
	}
	totpKeys := make([]totp.Key, 0, len(k.TOTP))
	for _, v := range k.TOTP {
		totpKeys = append(totpKeys, totp.Key{ID: v.ID, Secret: v.Secret})
	}
	if len(totpKeys) == 0 {
		for _, v := range signing {
			totpKeys = append(totpKeys, totp.Key{ID: v.ID, Secret: derive(v.Secret, "authsys totp key")})
		}
	}
	cipher, err := totp.NewCipher(totpKeys)
	if err != nil {
		return nil, nil, bad("Keys.TOTP", err.Error())
	}
	return tm, cipher, nil
}

func (m *Mail) defaults() {
	m.AppName = cmp.Or(m.AppName, "AuthSystem")
	defaultDuration(&m.Timeout, 30*time.Second)
	if m.Templates == nil {
		m.Templates = &mail.Templates{}
	}
}

func (m Mail) validate() error {
	switch {
	case m.From == "" || !strings.Contains(m.From, "@") || strings.ContainsAny(m.From, "\r\n"):
		return bad("Mail.From", "required: a plain email address")
	case m.Timeout < 0:
		return bad("Mail.Timeout", "must not be negative")
	}
	if err := m.Templates.Validate(); err != nil {
		return bad("Mail.Templates", err.Error())
	}
	for i, k := range m.SkipNotices {
		if !slices.Contains(server.Notices, k) {
			return bad(fmt.Sprintf("Mail.SkipNotices[%d]", i), fmt.Sprintf("%q is not a notice kind (want one of %s)", k, strings.Join(server.Notices, ", ")))
		}
	}
	return nil
}

func (l *Links) defaults() {
	l.VerifyAccountPath = cmp.Or(l.VerifyAccountPath, "/verify-account")
	l.PasswordResetPath = cmp.Or(l.PasswordResetPath, "/reset-password")
	l.EmailChangePath = cmp.Or(l.EmailChangePath, "/confirm-email-change")
	defaultDuration(&l.VerifyAccountTTL, 72*time.Hour)
	defaultDuration(&l.PasswordResetTTL, time.Hour)
	defaultDuration(&l.EmailChangeTTL, time.Hour)
}

func (l Links) build() (*url.URL, error) {
	if l.FrontendURL == "" {
		return nil, bad("Links.FrontendURL", "required: the absolute URL of the application")
	}
	u, err := url.Parse(l.FrontendURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		shown := l.FrontendURL
		if err != nil || u.User != nil {
			shown = "the value" // it may carry a password
		}
		return nil, bad("Links.FrontendURL", fmt.Sprintf("%s is not an absolute http(s) URL without user, query or fragment", shown))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"VerifyAccountTTL", l.VerifyAccountTTL}, {"PasswordResetTTL", l.PasswordResetTTL}, {"EmailChangeTTL", l.EmailChangeTTL}} {
		if f.v < 0 {
			return nil, bad("Links."+f.name, "must not be negative")
		}
	}
	return u, nil
}

func (s *Sessions) defaults() {
	defaultDuration(&s.AccessTTL, 15*time.Minute)
	defaultDuration(&s.RefreshTTL, 7*24*time.Hour)
	defaultDuration(&s.AbsoluteTTL, 30*24*time.Hour)
	defaultDuration(&s.RefreshReuseGrace, 10*time.Second)
	defaultDuration(&s.ClockSkew, 5*time.Second)
	s.RefreshReuseGrace = max(s.RefreshReuseGrace, 0)
	s.ClockSkew = max(s.ClockSkew, 0)
	s.Issuer = cmp.Or(s.Issuer, "authsys")
	s.Audience = cmp.Or(s.Audience, "authsys")
	s.KeyPrefix = cmp.Or(s.KeyPrefix, "auth:")
	s.CacheSize = cmp.Or(s.CacheSize, 10_000)
	defaultDuration(&s.ReauthWindow, 10*time.Minute)
}

func (s Sessions) validate() error {
	switch {
	case s.AccessTTL < 0:
		return bad("Sessions.AccessTTL", "must not be negative")
	case s.RefreshTTL < 0:
		return bad("Sessions.RefreshTTL", "must not be negative")
	case s.AccessTTL >= s.RefreshTTL:
		return bad("Sessions.AccessTTL", "must be shorter than RefreshTTL")
	case s.AbsoluteTTL <= s.AccessTTL:
		return bad("Sessions.AbsoluteTTL", "must be longer than AccessTTL")
	case s.CacheMaxAge < 0:
		return bad("Sessions.CacheMaxAge", "must not be negative")
	case s.ReauthWindow < 0:
		return bad("Sessions.ReauthWindow", "must not be negative")
	}
	return nil
}

func (c *Cookies) defaults() {
	c.AccessName = cmp.Or(c.AccessName, "access_token")
	c.RefreshName = cmp.Or(c.RefreshName, "refresh_token")
	c.TrustedDeviceName = cmp.Or(c.TrustedDeviceName, "trusted_device")
	c.RefreshPath = cmp.Or(c.RefreshPath, "/api/auth/")
	c.SameSite = cmp.Or(c.SameSite, http.SameSiteLaxMode)
}

func (c Cookies) validate() error {
	if c.SameSite == http.SameSiteNoneMode && c.Insecure {
		return bad("Cookies.SameSite", "SameSite=None requires Secure cookies")
	}
	if !strings.HasPrefix(c.RefreshPath, "/") || (&http.Cookie{Name: "x", Path: c.RefreshPath}).Valid() != nil {
		return bad("Cookies.RefreshPath", fmt.Sprintf("%q is not a cookie path starting with /", c.RefreshPath))
	}
	// An invalid name or domain would make net/http drop the cookie
	// silently: every login would "succeed" without a session.
	for field, name := range map[string]string{"AccessName": c.AccessName, "RefreshName": c.RefreshName, "TrustedDeviceName": c.TrustedDeviceName} {
		if (&http.Cookie{Name: name}).Valid() != nil {
			return bad("Cookies."+field, fmt.Sprintf("%q is not a valid cookie name", name))
		}
	}
	if c.AccessName == c.RefreshName {
		return bad("Cookies.RefreshName", "must differ from AccessName")
	}
	if c.TrustedDeviceName == c.AccessName || c.TrustedDeviceName == c.RefreshName {
		return bad("Cookies.TrustedDeviceName", "must differ from AccessName and RefreshName")
	}
	if c.Domain != "" && (&http.Cookie{Name: "x", Domain: c.Domain}).Valid() != nil {
		return bad("Cookies.Domain", fmt.Sprintf("%q is not a valid cookie domain", c.Domain))
	}
	return nil
}

// build returns the limits in force: the defaults for zero rates, none for
// Off ones.
func (l RateLimits) build() (server.Limits, error) {
	var out server.Limits
	if l.Off {
		return out, nil
	}
	for _, f := range []struct {
		name string
		r    Rate
		def  Rate
		dst  *ratelimit.Rate
	}{
		{"Login", l.Login, Rate{N: 10, Per: time.Minute}, &out.Login},
		{"Signup", l.Signup, Rate{N: 5, Per: time.Minute}, &out.Signup},
		{"PasswordReset", l.PasswordReset, Rate{N: 5, Per: time.Minute}, &out.PasswordReset},
		{"TwoFactor", l.TwoFactor, Rate{N: 10, Per: time.Minute}, &out.TwoFactor},
		{"TwoFactorDaily", l.TwoFactorDaily, Rate{N: 50, Per: 24 * time.Hour}, &out.TwoFactorDaily},
		{"Refresh", l.Refresh, Rate{N: 30, Per: time.Minute}, &out.Refresh},
		{"MailDaily", l.MailDaily, Rate{N: 10, Per: 24 * time.Hour}, &out.MailDaily},
	} {
		switch r := f.r; {
		case r.Off && (r.N != 0 || r.Per != 0):
			return out, bad("RateLimits."+f.name, "is Off but has N or Per")
		case r.Off:
			continue
		case r == Rate{}:
			r = f.def
			*f.dst = ratelimit.Rate{N: r.N, Per: r.Per}
		case r.N <= 0 || r.Per <= 0:
			return out, bad("RateLimits."+f.name, fmt.Sprintf("%v: N and Per must both be positive (or Off set)", r))
		default:
			*f.dst = ratelimit.Rate{N: r.N, Per: r.Per}
		}
	}
	return out, nil
}

func (t *TwoFactor) defaults(appName string) {
	t.Issuer = cmp.Or(t.Issuer, appName)
	t.BackupCodes = cmp.Or(t.BackupCodes, 10)
	defaultDuration(&t.PendingLoginTTL, 5*time.Minute)
	defaultDuration(&t.TrustedDeviceTTL, 30*24*time.Hour)
	if t.Rand == nil {
		t.Rand = rand.Reader
	}
}

func (t TwoFactor) validate() error {
	switch {
	case t.BackupCodes < 1 || t.BackupCodes > 100:
		return bad("TwoFactor.BackupCodes", "must be between 1 and 100")
	case t.PendingLoginTTL < 0:
		return bad("TwoFactor.PendingLoginTTL", "must not be negative")
	}
	return nil
}

func (p *Passwords) defaults() {
	p.MaxConcurrentHashes = cmp.Or(p.MaxConcurrentHashes, runtime.GOMAXPROCS(0))
	d := DefaultPasswordParams()
	p.Params.Memory = cmp.Or(p.Params.Memory, d.Memory)
	p.Params.Iterations = cmp.Or(p.Params.Iterations, d.Iterations)
	p.Params.Parallelism = cmp.Or(p.Params.Parallelism, d.Parallelism)
	p.Params.SaltLength = cmp.Or(p.Params.SaltLength, d.SaltLength)
	p.Params.KeyLength = cmp.Or(p.Params.KeyLength, d.KeyLength)
}

// policy returns Policy, or DefaultPasswordPolicy, in the server's terms.
func (p Passwords) policy() func(ctx context.Context, userID, email, password string) error {
	policy := p.Policy
	if policy == nil {
		policy = DefaultPasswordPolicy
	}
	return func(ctx context.Context, userID, email, password string) error {
		return policy(ctx, PasswordCandidate{UserID: userID, Email: email, Password: password})
	}
}

func (p Passwords) validate() error {
	if p.MaxConcurrentHashes < 0 {
		return bad("Passwords.MaxConcurrentHashes", "must not be negative (0 means GOMAXPROCS)")
	}
	if err := password.Params(p.Params).Validate(); err != nil {
		return bad("Passwords.Params", err.Error())
	}
	return nil
}

func (h *HTTP) defaults() { defaultDuration(&h.RequestTimeout, 10*time.Second) }

func (h HTTP) build() (*clientip.Resolver, *http.CrossOriginProtection, error) {
	if h.RequestTimeout < 0 {
		return nil, nil, bad("HTTP.RequestTimeout", "must not be negative")
	}
	ips, err := clientip.New(h.TrustedProxies)
	if err != nil {
		return nil, nil, bad("HTTP.TrustedProxies", err.Error())
	}
	csrf := http.NewCrossOriginProtection()
	for _, o := range h.TrustedOrigins {
		if !serializedOrigin(o) {
			return nil, nil, bad("HTTP.TrustedOrigins", fmt.Sprintf("%q is not an origin like https://app.example.com (lower case, no default port, nothing after the host), as browsers send it", o))
		}
		if err := csrf.AddTrustedOrigin(o); err != nil {
			return nil, nil, bad("HTTP.TrustedOrigins", err.Error())
		}
	}
	return ips, csrf, nil
}

// serializedOrigin reports whether o is an origin as browsers serialize it
// in the Origin header, which trusted origins are compared with exactly:
// scheme://host[:port], in lower case, without the default port of http
// or https.
func serializedOrigin(o string) bool {
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || o != u.Scheme+"://"+u.Host || o != strings.ToLower(o):
		return false
	case u.Scheme == "http" && u.Port() == "80", u.Scheme == "https" && u.Port() == "443":
		return false
	}
	return true
}

// validAlgorithm reports whether alg is a JWT algorithm tokens supports;
// empty means the default, HS256.
func validAlgorithm(alg string) bool {
	return alg == "" || alg == tokens.HS256 || alg == tokens.EdDSA
}

// validKeyID reports whether id is a valid key ID: 1 to 64 characters from
// A-Z a-z 0-9 - _ (it travels in tokens).
func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

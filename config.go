package authsys

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/authsys-go/authsys/internal/clientip"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

// Key is a secret identified by an ID, for rotation: a JWT's "kid", or the
// key id stored with an encrypted TOTP secret.
type Key struct {
	// ID names the key; it appears in tokens and ciphertexts.
	ID string
	// Secret is at least 32 random bytes.
	Secret []byte
	// Algorithm is the JWT algorithm of a VerificationKeys entry: "HS256"
	// (the default when empty) or "EdDSA", as Config.SigningAlgorithm was
	// when the key signed. TOTPKeys leave it empty.
	Algorithm string
}

// Rate-limit names, the keys of Config.RateLimits.
const (
	LimitLogin         = "login"
	LimitSignup        = "signup"
	LimitPasswordReset = "password_reset"
	LimitTwoFactor     = "2fa_verify"
	// LimitTwoFactorDaily is a second, slower 2FA budget, per account
	// only: LimitTwoFactor's 10/min alone would let someone who has the
	// password try 14,400 codes a day (a few percent chance of guessing
	// one); 50/day caps that near 0.03 %.
	LimitTwoFactorDaily = "2fa_verify_daily"
)

// DefaultRateLimits returns the limits used when Config.RateLimits is nil:
// login 10/min, signup 5/min, password reset 5/min, 2FA verify 10/min, each
// counted per client IP and per account, and 2FA verify 50/day per account.
func DefaultRateLimits() map[string]string {
	return map[string]string{
		LimitLogin: "10/min", LimitSignup: "5/min", LimitPasswordReset: "5/min",
		LimitTwoFactor: "10/min", LimitTwoFactorDaily: "50/day",
	}
}

// Config configures an Auth. The zero value of every optional field means
// its default, given at the end of the field's comment; defaults are filled
// in one place (withDefaults) and New validates the result.
type Config struct {
	// SigningKey signs JWTs and one-time tokens: at least 32 random bytes.
	// Required.
	SigningKey []byte
	// SigningKeyID is the "kid" of SigningKey. Default "k1".
	SigningKeyID string
	// SigningAlgorithm is the JWT algorithm of SigningKey: "HS256"
	// (HMAC-SHA256, only holders of the key verify) or "EdDSA" (Ed25519,
	// with a key pair derived from SigningKey; the public key is served at
	// GET /jwks.json so other services can verify access tokens without
	// being able to sign them). Each kid is pinned to its algorithm.
	// Default "HS256".
	SigningAlgorithm string
	// VerificationKeys are earlier signing keys still accepted, so keys
	// rotate without logging everyone out. Default none.
	VerificationKeys []Key
	// TOTPKeys encrypt TOTP secrets at rest (AES-256-GCM); the first
	// encrypts, all decrypt. A secret under an older key is sealed again
	// under the first whenever its account uses a code, and
	// Auth.RotateTOTPSecrets re-seals all of them, after which the old key
	// can go. Default: keys derived (HKDF) from SigningKey and from each
	// VerificationKeys entry, with their IDs, so TOTP keys rotate with the
	// signing keys; set TOTPKeys to rotate them separately. Backup codes are
	// keyed by each account's TOTP secret, so no key rotation affects them.
	TOTPKeys []Key

	// Users stores accounts. Required.
	Users UserStore
	// Pending stores short-lived state (2FA sessions, denylist, counters,
	// rate-limit state).
	// Required: memory.New() on a single instance, Redis when several run.
	Pending PendingStore
	// Mailer sends the library's emails. Required: mail.Console in
	// development, an SMTP mailer in production.
	Mailer Mailer
	// Templates overrides the email templates. Default: the built-in ones.
	Templates *mail.Templates

	// FrontendURL is the absolute http(s) URL of the application whose
	// pages receive email links. Required. Links never come from the
	// request's Host or X-Forwarded-Host.
	FrontendURL string
	// VerifyAccountPath is the frontend page that posts uid and token to
	// /verify-account/. Default "/verify-account".
	VerifyAccountPath string
	// PasswordResetPath is the frontend page that posts uid, token and the
	// new password to /password-reset-confirm/. Default "/reset-password".
	PasswordResetPath string
	// EmailChangePath is the frontend page that posts the token to
	// /change-email-confirm/. Default "/confirm-email-change".
	EmailChangePath string
	// FromEmail is the sender of every email. Required.
	FromEmail string
	// AppName appears in emails. Default "AuthSystem".
	AppName string

	// AccessTokenTTL is the life of an access token. Default 15 minutes.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the life of a refresh token. Default 7 days.
	RefreshTokenTTL time.Duration
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
	// VerificationTokenTTL is the life of an email verification link.
	// Default 3 days.
	VerificationTokenTTL time.Duration
	// PasswordResetTokenTTL is the life of a password reset link. Default
	// 1 hour.
	PasswordResetTokenTTL time.Duration
	// PendingEmailTTL is how long a requested email change waits for
	// confirmation. Default 3600 seconds.
	PendingEmailTTL time.Duration
	// PendingSessionTTL is the life of a 2FA pending login session.
	// Default 300 seconds.
	PendingSessionTTL time.Duration
	// PendingSessionPrefix prefixes pending 2FA session keys in Pending.
	// Default "auth:pending:".
	PendingSessionPrefix string
	// KeyPrefix prefixes every other key the library puts in Pending.
	// Default "auth:".
	KeyPrefix string

	// AccessCookieName is the access token cookie. Default "access_token".
	AccessCookieName string
	// RefreshCookieName is the refresh token cookie. Default
	// "refresh_token".
	RefreshCookieName string
	// RefreshCookiePath scopes the refresh cookie: the path the Handler is
	// mounted at. Default "/api/auth/".
	RefreshCookiePath string
	// CookieDomain is the cookies' Domain attribute. Default none
	// (host-only cookies).
	CookieDomain string
	// InsecureCookies drops the Secure attribute, for plain-HTTP
	// development only. Default false: cookies are Secure.
	InsecureCookies bool
	// SameSite is the cookies' SameSite mode. Default http.SameSiteLaxMode.
	SameSite http.SameSite
	// AllowBearer also accepts "Authorization: Bearer <access token>", for
	// native clients. Default false.
	AllowBearer bool
	// UpdateSessionAuthHash keeps the client that changed its password
	// logged in with fresh cookies (every other session still dies); false
	// logs it out too. Default true.
	UpdateSessionAuthHash *bool
	// CheckRevokedSessions makes Middleware and the authenticated
	// endpoints refuse an access token whose session has ended: logged out,
	// or revoked because its refresh token was replayed. It costs one
	// PendingStore read per authenticated request, and ties those requests
	// to the PendingStore's availability (503 while it is down). False
	// leaves access tokens valid until they expire (AccessTokenTTL) after a
	// logout, as in SimpleJWT; logout-all, password and email changes and
	// deactivation end them at once either way (the token version).
	// Default true.
	CheckRevokedSessions *bool

	// TrustedOrigins are origins ("https://app.example.com") allowed to
	// make cross-origin unsafe requests (an SPA on another origin). Default
	// none: same-origin only.
	TrustedOrigins []string
	// TrustedProxies are CIDRs ("10.0.0.0/8") or addresses of reverse
	// proxies whose X-Forwarded-For is believed when finding the client IP
	// that rate limits count: only a request whose connection comes from
	// one of them has its X-Forwarded-For read, right to left, skipping
	// trusted hops. The entry "unix" trusts a proxy connected over a Unix
	// socket (a peer without an IP address). Default none: the
	// connection's address is the client's and X-Forwarded-For is ignored.
	// IP budgets count IPv4 addresses one by one and IPv6 addresses by
	// /64; a request without a client IP (an untrusted Unix-socket peer)
	// has only the account budget.
	TrustedProxies []string
	// RateLimits maps LimitLogin, LimitSignup, LimitPasswordReset and
	// LimitTwoFactor to rates such as "10/min" or "5/hour"; each applies
	// per client IP and per account (the normalized email; the user for
	// 2FA). LimitTwoFactorDaily applies per account only, on top of
	// LimitTwoFactor. A rate N/Per is enforced by GCRA (generic cell rate
	// algorithm): a burst of N requests at once, then one request every
	// Per/N; a refused request (429 with Retry-After, the seconds until
	// one would be allowed) spends nothing. The state is kept in Pending,
	// in one atomic round trip per check, so that instances sharing it
	// share each budget; a Pending that does not implement
	// store.RateStore gets fixed windows of Per on IncrPending counters
	// instead (refused requests included). A missing or empty entry
	// disables that limit, so start from DefaultRateLimits() to change
	// one. Default (nil map): DefaultRateLimits().
	RateLimits map[string]string

	// PasswordParams are the argon2id parameters of new hashes. Default
	// OWASP's: 19 MiB, 2 iterations, 1 lane.
	PasswordParams *PasswordParams
	// MaxConcurrentHashes bounds password hashes computed at once; others
	// wait within the request deadline, then get 503. Each running argon2id
	// hash holds PasswordParams.Memory, so this also bounds the memory a
	// login flood can take. Default GOMAXPROCS.
	MaxConcurrentHashes int

	// TOTPIssuer names the service in authenticator apps. Default
	// "AuthSystem".
	TOTPIssuer string
	// BackupCodesCount is how many 2FA backup codes are issued. Default 10.
	BackupCodesCount int

	// IsAdmin decides who may use AdminHandler. Default: User.IsStaff.
	IsAdmin func(User) bool
	// OnEvent receives every security event (also logged). Default none.
	// It is called synchronously and must be fast and safe for concurrent
	// use.
	OnEvent func(Event)
	// RenderProblem, when set, writes every error response of Handler,
	// AdminHandler and Middleware instead of the default
	// application/problem+json body, for an application with an error
	// format of its own. The status, the stable Code, the field Errors
	// and the Retry-After header (already set on w) are the contract; it
	// must write the status it is given and must not show p.Err, the
	// internal cause. Default: RFC 9457 problem details.
	RenderProblem func(w http.ResponseWriter, r *http.Request, p *Problem)
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
	// RequestTimeout bounds each request's store and hashing work, so a
	// hung dependency cannot pin goroutines. Default 10 seconds.
	RequestTimeout time.Duration
	// MailTimeout bounds each background email send. Default 30 seconds.
	MailTimeout time.Duration

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of randomness for TOTP secrets and backup codes.
	// Default crypto/rand.Reader.
	Rand io.Reader
}

// PasswordParams are argon2id parameters.
type PasswordParams = password.Params

// DefaultPasswordParams returns OWASP's argon2id parameters.
func DefaultPasswordParams() PasswordParams { return password.DefaultParams() }

// Bool returns a pointer to b, for Config.UpdateSessionAuthHash and
// Config.CheckRevokedSessions.
func Bool(b bool) *bool { return &b }

// withDefaults returns c with every unset optional field at its default.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SigningKeyID, "k1")
	def(&c.SigningAlgorithm, tokens.HS256)
	def(&c.VerifyAccountPath, "/verify-account")
	def(&c.PasswordResetPath, "/reset-password")
	def(&c.EmailChangePath, "/confirm-email-change")
	def(&c.AppName, "AuthSystem")
	def(&c.Issuer, "authsys")
	def(&c.Audience, "authsys")
	def(&c.PendingSessionPrefix, "auth:pending:")
	def(&c.KeyPrefix, "auth:")
	def(&c.AccessCookieName, "access_token")
	def(&c.RefreshCookieName, "refresh_token")
	def(&c.RefreshCookiePath, "/api/auth/")
	def(&c.TOTPIssuer, "AuthSystem")
	dur(&c.AccessTokenTTL, 15*time.Minute)
	dur(&c.RefreshTokenTTL, 7*24*time.Hour)
	dur(&c.RefreshReuseGrace, 10*time.Second)
	dur(&c.ClockSkew, 5*time.Second)
	if c.ClockSkew < 0 {
		c.ClockSkew = 0
	}
	if c.RefreshReuseGrace < 0 {
		c.RefreshReuseGrace = 0
	}
	dur(&c.VerificationTokenTTL, 72*time.Hour)
	dur(&c.PasswordResetTokenTTL, time.Hour)
	dur(&c.PendingEmailTTL, time.Hour)
	dur(&c.PendingSessionTTL, 5*time.Minute)
	dur(&c.RequestTimeout, 10*time.Second)
	dur(&c.MailTimeout, 30*time.Second)
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.CheckRevokedSessions == nil {
		c.CheckRevokedSessions = Bool(true)
	}
	if c.UpdateSessionAuthHash == nil {
		c.UpdateSessionAuthHash = Bool(true)
	}
	if c.RateLimits == nil {
		c.RateLimits = DefaultRateLimits()
	}
	if c.PasswordParams == nil {
		p := password.DefaultParams()
		c.PasswordParams = &p
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if c.BackupCodesCount == 0 {
		c.BackupCodesCount = 10
	}
	if c.IsAdmin == nil {
		c.IsAdmin = func(u User) bool { return u.IsStaff }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Templates == nil {
		c.Templates = &mail.Templates{}
	}
	return c
}

// ConfigError reports an invalid Config field. It never quotes a secret.
type ConfigError struct {
	// Field names the field, with an index or key when it is one element
	// ("VerificationKeys[1]", "RateLimits[login]").
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *ConfigError) Error() string { return "authsys: Config." + e.Field + ": " + e.Reason }

// Validate reports the first invalid field of c (after defaults) as a
// *ConfigError. It checks exactly what New checks, so a deployment can
// validate its configuration without starting anything.
func (c Config) Validate() error {
	c = c.withDefaults()
	_, err := c.validate()
	return err
}

// parsedConfig is what validate builds from a valid Config, so that New
// and Validate check exactly the same things.
type parsedConfig struct {
	frontend *url.URL
	limits   map[string]ratelimit.Rate
	ips      *clientip.Resolver
	tokens   *tokens.Manager
	cipher   *totp.Cipher
	csrf     *http.CrossOriginProtection
}

func (c Config) validate() (parsedConfig, error) {
	var p parsedConfig
	bad := func(field, reason string) error { return &ConfigError{Field: field, Reason: reason} }
	switch {
	case len(c.SigningKey) == 0:
		return p, bad("SigningKey", "required (at least 32 random bytes)")
	case len(c.SigningKey) < 32:
		return p, bad("SigningKey", fmt.Sprintf("%d bytes is too short; use at least 32 random bytes", len(c.SigningKey)))
	case c.Users == nil:
		return p, bad("Users", "required")
	case c.Pending == nil:
		return p, bad("Pending", "required (memory.New() on one instance, Redis when several run)")
	case c.Mailer == nil:
		return p, bad("Mailer", "required (mail.Console in development)")
	case c.FromEmail == "" || !strings.Contains(c.FromEmail, "@") || strings.ContainsAny(c.FromEmail, "\r\n"):
		return p, bad("FromEmail", "required: a plain email address")
	}
	if !validAlgorithm(c.SigningAlgorithm) {
		return p, bad("SigningAlgorithm", fmt.Sprintf("%q: want HS256 or EdDSA", c.SigningAlgorithm))
	}
	if !validKeyID(c.SigningKeyID) {
		return p, bad("SigningKeyID", fmt.Sprintf("%q is not 1 to 64 characters from A-Z a-z 0-9 - _", c.SigningKeyID))
	}
	seen := map[string]bool{c.SigningKeyID: true}
	for i, k := range c.VerificationKeys {
		field := fmt.Sprintf("VerificationKeys[%d]", i)
		switch {
		case !validKeyID(k.ID) || len(k.Secret) < 32:
			return p, bad(field, "needs an ID of 1 to 64 characters from A-Z a-z 0-9 - _ and at least 32 bytes")
		case seen[k.ID]:
			return p, bad(field, fmt.Sprintf("ID %q is used twice (SigningKeyID included)", k.ID))
		case !validAlgorithm(k.Algorithm):
			return p, bad(field, fmt.Sprintf("algorithm %q: want HS256 or EdDSA", k.Algorithm))
		}
		seen[k.ID] = true
	}
	for i, k := range c.TOTPKeys {
		if k.ID == "" || len(k.Secret) < 32 {
			return p, bad(fmt.Sprintf("TOTPKeys[%d]", i), "needs an ID and at least 32 bytes")
		}
		if k.Algorithm != "" {
			return p, bad(fmt.Sprintf("TOTPKeys[%d]", i), "has an Algorithm; TOTP keys are AES keys and take none")
		}
	}
	u, err := url.Parse(c.FrontendURL)
	if c.FrontendURL == "" {
		return p, bad("FrontendURL", "required: the absolute URL of the application")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		shown := c.FrontendURL
		if err != nil || u.User != nil {
			shown = "the value" // it may carry a password
		}
		return p, bad("FrontendURL", fmt.Sprintf("%s is not an absolute http(s) URL without user, query or fragment", shown))
	}
	p.frontend = u
	for name, v := range map[string]time.Duration{
		"AccessTokenTTL": c.AccessTokenTTL, "RefreshTokenTTL": c.RefreshTokenTTL,
		"VerificationTokenTTL": c.VerificationTokenTTL, "PasswordResetTokenTTL": c.PasswordResetTokenTTL,
		"PendingEmailTTL": c.PendingEmailTTL, "PendingSessionTTL": c.PendingSessionTTL,
		"RequestTimeout": c.RequestTimeout, "MailTimeout": c.MailTimeout,
	} {
		if v < 0 {
			return p, bad(name, "must not be negative")
		}
	}
	if c.AccessTokenTTL >= c.RefreshTokenTTL {
		return p, bad("AccessTokenTTL", "must be shorter than RefreshTokenTTL")
	}
	if c.SameSite == http.SameSiteNoneMode && c.InsecureCookies {
		return p, bad("SameSite", "SameSite=None requires Secure cookies")
	}
	if c.BackupCodesCount < 1 || c.BackupCodesCount > 100 {
		return p, bad("BackupCodesCount", "must be between 1 and 100")
	}
	if !strings.HasPrefix(c.RefreshCookiePath, "/") || (&http.Cookie{Name: "x", Path: c.RefreshCookiePath}).Valid() != nil {
		return p, bad("RefreshCookiePath", fmt.Sprintf("%q is not a cookie path starting with /", c.RefreshCookiePath))
	}
	// An invalid name or domain would make net/http drop the cookie
	// silently: every login would "succeed" without a session.
	for field, name := range map[string]string{"AccessCookieName": c.AccessCookieName, "RefreshCookieName": c.RefreshCookieName} {
		if (&http.Cookie{Name: name}).Valid() != nil {
			return p, bad(field, fmt.Sprintf("%q is not a valid cookie name", name))
		}
	}
	if c.AccessCookieName == c.RefreshCookieName {
		return p, bad("RefreshCookieName", "must differ from AccessCookieName")
	}
	if c.CookieDomain != "" && (&http.Cookie{Name: "x", Domain: c.CookieDomain}).Valid() != nil {
		return p, bad("CookieDomain", fmt.Sprintf("%q is not a valid cookie domain", c.CookieDomain))
	}
	p.limits = map[string]ratelimit.Rate{}
	known := map[string]bool{LimitLogin: true, LimitSignup: true, LimitPasswordReset: true, LimitTwoFactor: true, LimitTwoFactorDaily: true}
	for name, s := range c.RateLimits {
		if !known[name] {
			return p, bad("RateLimits", fmt.Sprintf("unknown limit %q (want login, signup, password_reset, 2fa_verify or 2fa_verify_daily)", name))
		}
		r, err := ratelimit.ParseRate(s)
		if err != nil {
			return p, bad("RateLimits["+name+"]", err.Error())
		}
		p.limits[name] = r
	}
	ips, err := clientip.New(c.TrustedProxies)
	if err != nil {
		return p, bad("TrustedProxies", err.Error())
	}
	p.ips = ips
	if c.MaxConcurrentHashes < 0 {
		return p, bad("MaxConcurrentHashes", "must not be negative (0 means GOMAXPROCS)")
	}
	if err := c.PasswordParams.Validate(); err != nil {
		return p, bad("PasswordParams", err.Error())
	}
	p.csrf = http.NewCrossOriginProtection()
	for _, o := range c.TrustedOrigins {
		if _, err := url.Parse(o); err != nil || !strings.Contains(o, "://") {
			return p, bad("TrustedOrigins", fmt.Sprintf("%q is not an origin like https://app.example.com", o))
		}
		if err := p.csrf.AddTrustedOrigin(o); err != nil {
			return p, bad("TrustedOrigins", err.Error())
		}
	}
	if err := c.Templates.Validate(); err != nil {
		return p, bad("Templates", err.Error())
	}
	keys := []tokens.Key{{ID: c.SigningKeyID, Secret: c.SigningKey, Algorithm: c.SigningAlgorithm}}
	for _, k := range c.VerificationKeys {
		keys = append(keys, tokens.Key{ID: k.ID, Secret: k.Secret, Algorithm: k.Algorithm})
	}
	tm, err := tokens.NewManager(tokens.Options{
		Keys: keys, Issuer: c.Issuer, Audience: c.Audience,
		AccessTTL: c.AccessTokenTTL, RefreshTTL: c.RefreshTokenTTL, Now: c.Now,
		Leeway: c.ClockSkew,
	})
	if err != nil {
		return p, bad("SigningKey", err.Error())
	}
	p.tokens = tm
	totpKeys := make([]totp.Key, 0, len(c.TOTPKeys))
	for _, k := range c.TOTPKeys {
		totpKeys = append(totpKeys, totp.Key{ID: k.ID, Secret: k.Secret})
	}
	if len(totpKeys) == 0 {
		totpKeys = append(totpKeys, totp.Key{ID: c.SigningKeyID, Secret: derive(c.SigningKey, "authsys totp key")})
		for _, k := range c.VerificationKeys {
			totpKeys = append(totpKeys, totp.Key{ID: k.ID, Secret: derive(k.Secret, "authsys totp key")})
		}
	}
	if p.cipher, err = totp.NewCipher(totpKeys); err != nil {
		return p, bad("TOTPKeys", err.Error())
	}
	return p, nil
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

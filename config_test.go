package authsys_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// coreValidConfig returns a minimal valid Config.
func coreValidConfig() authsys.Config {
	s := memory.New()
	return authsys.Config{
		SigningKey:  testKey,
		Users:       s,
		Pending:     s,
		Mailer:      &mail.Outbox{},
		FrontendURL: "https://app.example.com",
		FromEmail:   "noreply@example.com",
	}
}

func TestConfigValidation(t *testing.T) {
	key := func(n int) []byte { return []byte(strings.Repeat("k", n)) }
	for _, tc := range []struct {
		name   string
		mutate func(*authsys.Config)
		field  string // "" means valid
	}{
		{"minimal", func(*authsys.Config) {}, ""},
		{"every option", func(c *authsys.Config) {
			c.SigningKeyID = "2026-03_a"
			c.VerificationKeys = []authsys.Key{{ID: "old", Secret: key(32)}}
			c.TOTPKeys = []authsys.Key{{ID: "t2", Secret: key(32)}, {ID: "t1", Secret: key(40)}}
			c.FrontendURL = "http://localhost:3000/app"
			c.RateLimits = map[string]string{authsys.LimitLogin: "3/min", authsys.LimitSignup: "100/hour", authsys.LimitPasswordReset: ""}
			c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}
			c.TrustedOrigins = []string{"https://spa.example.com"}
			c.CookieDomain = "example.com"
			c.RefreshCookiePath = "/auth/refresh/"
			c.SameSite = http.SameSiteNoneMode
			c.RefreshReuseGrace = -1
			c.UpdateSessionAuthHash = authsys.Bool(false)
			c.MaxConcurrentHashes = 3
		}, ""},
		{"signing key missing", func(c *authsys.Config) { c.SigningKey = nil }, "SigningKey"},
		{"signing key short", func(c *authsys.Config) { c.SigningKey = key(31) }, "SigningKey"},
		{"signing key id malformed", func(c *authsys.Config) { c.SigningKeyID = "k 1" }, "SigningKeyID"},
		{"verification key short", func(c *authsys.Config) { c.VerificationKeys = []authsys.Key{{ID: "old", Secret: key(16)}} }, "VerificationKeys[0]"},
		{"verification key without ID", func(c *authsys.Config) { c.VerificationKeys = []authsys.Key{{Secret: key(32)}} }, "VerificationKeys[0]"},
		{"verification key ID reused", func(c *authsys.Config) {
			c.VerificationKeys = []authsys.Key{{ID: "old", Secret: key(32)}, {ID: "k1", Secret: key(33)}}
		}, "VerificationKeys[1]"},
		{"TOTP key short", func(c *authsys.Config) { c.TOTPKeys = []authsys.Key{{ID: "t1", Secret: key(8)}} }, "TOTPKeys[0]"},
		{"EdDSA with an HS256 verification key", func(c *authsys.Config) {
			c.SigningAlgorithm = "EdDSA"
			c.VerificationKeys = []authsys.Key{{ID: "old", Secret: key(32), Algorithm: "HS256"}}
		}, ""},
		{"signing algorithm unknown", func(c *authsys.Config) { c.SigningAlgorithm = "RS256" }, "SigningAlgorithm"},
		{"signing algorithm none", func(c *authsys.Config) { c.SigningAlgorithm = "none" }, "SigningAlgorithm"},
		{"verification key algorithm unknown", func(c *authsys.Config) {
			c.VerificationKeys = []authsys.Key{{ID: "old", Secret: key(32), Algorithm: "hs256"}}
		}, "VerificationKeys[0]"},
		{"TOTP key with an algorithm", func(c *authsys.Config) { c.TOTPKeys = []authsys.Key{{ID: "t1", Secret: key(32), Algorithm: "EdDSA"}} }, "TOTPKeys[0]"},
		{"nil Users", func(c *authsys.Config) { c.Users = nil }, "Users"},
		{"nil Pending", func(c *authsys.Config) { c.Pending = nil }, "Pending"},
		{"nil Mailer", func(c *authsys.Config) { c.Mailer = nil }, "Mailer"},
		{"FromEmail missing", func(c *authsys.Config) { c.FromEmail = "" }, "FromEmail"},
		{"FromEmail header injection", func(c *authsys.Config) { c.FromEmail = "a@example.com\r\nBcc: b@example.com" }, "FromEmail"},
		{"FrontendURL missing", func(c *authsys.Config) { c.FrontendURL = "" }, "FrontendURL"},
		{"FrontendURL relative", func(c *authsys.Config) { c.FrontendURL = "/app" }, "FrontendURL"},
		{"FrontendURL other scheme", func(c *authsys.Config) { c.FrontendURL = "javascript://app.example.com" }, "FrontendURL"},
		{"FrontendURL no host", func(c *authsys.Config) { c.FrontendURL = "https://" }, "FrontendURL"},
		{"FrontendURL with query", func(c *authsys.Config) { c.FrontendURL = "https://app.example.com/?next=x" }, "FrontendURL"},
		{"FrontendURL with user", func(c *authsys.Config) { c.FrontendURL = "https://user@app.example.com" }, "FrontendURL"},
		{"FrontendURL unparsable", func(c *authsys.Config) { c.FrontendURL = "https://app example.com/%zz" }, "FrontendURL"},
		{"negative TTL", func(c *authsys.Config) { c.AccessTokenTTL = -time.Minute }, "AccessTokenTTL"},
		{"access outlives refresh", func(c *authsys.Config) { c.AccessTokenTTL = 8 * 24 * time.Hour }, "AccessTokenTTL"},
		{"negative request timeout", func(c *authsys.Config) { c.RequestTimeout = -time.Second }, "RequestTimeout"},
		{"bad rate", func(c *authsys.Config) { c.RateLimits = map[string]string{authsys.LimitLogin: "ten per minute"} }, "RateLimits[login]"},
		{"bad rate unit", func(c *authsys.Config) { c.RateLimits = map[string]string{authsys.LimitSignup: "5/fortnight"} }, "RateLimits[signup]"},
		{"unknown limit", func(c *authsys.Config) { c.RateLimits = map[string]string{"logn": "5/min"} }, "RateLimits"},
		{"bad trusted proxy", func(c *authsys.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"} }, "TrustedProxies"},
		{"bad trusted proxy CIDR", func(c *authsys.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "TrustedProxies"},
		{"bad trusted origin", func(c *authsys.Config) { c.TrustedOrigins = []string{"spa.example.com"} }, "TrustedOrigins"},
		{"trusted origin with path", func(c *authsys.Config) { c.TrustedOrigins = []string{"https://spa.example.com/app"} }, "TrustedOrigins"},
		{"SameSite None without Secure", func(c *authsys.Config) {
			c.SameSite = http.SameSiteNoneMode
			c.InsecureCookies = true
		}, "SameSite"},
		{"refresh cookie path relative", func(c *authsys.Config) { c.RefreshCookiePath = "api/auth/" }, "RefreshCookiePath"},
		{"refresh cookie path with ;", func(c *authsys.Config) { c.RefreshCookiePath = "/api;auth/" }, "RefreshCookiePath"},
		{"bad access cookie name", func(c *authsys.Config) { c.AccessCookieName = "access token" }, "AccessCookieName"},
		{"bad refresh cookie name", func(c *authsys.Config) { c.RefreshCookieName = "r=t" }, "RefreshCookieName"},
		{"same cookie names", func(c *authsys.Config) { c.RefreshCookieName = "access_token" }, "RefreshCookieName"},
		{"bad cookie domain", func(c *authsys.Config) { c.CookieDomain = "exa mple.com" }, "CookieDomain"},
		{"bad password params", func(c *authsys.Config) {
			c.PasswordParams = &authsys.PasswordParams{Memory: 4, Iterations: 1, Parallelism: 1}
		}, "PasswordParams"},
		{"negative MaxConcurrentHashes", func(c *authsys.Config) { c.MaxConcurrentHashes = -1 }, "MaxConcurrentHashes"},
		{"too many backup codes", func(c *authsys.Config) { c.BackupCodesCount = 1000 }, "BackupCodesCount"},
		{"bad template", func(c *authsys.Config) {
			c.Templates = &mail.Templates{PasswordReset: mail.Template{Subject: "{{.Nope"}}
		}, "Templates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coreValidConfig()
			tc.mutate(&cfg)
			auth, err := authsys.New(cfg)
			verr := cfg.Validate()
			if tc.field == "" {
				if err != nil || verr != nil || auth == nil {
					t.Fatalf("got New error %v, Validate error %v, want a valid config", err, verr)
				}
				return
			}
			var ce *authsys.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got New error %v (%T), want a *ConfigError naming %s", err, err, tc.field)
			}
			if ce.Field != tc.field {
				t.Errorf("got field %q (%v), want %q", ce.Field, err, tc.field)
			}
			if !strings.Contains(err.Error(), "Config."+tc.field) {
				t.Errorf("got message %q, want it to name Config.%s", err, tc.field)
			}
			if auth != nil {
				t.Error("got an Auth with an error, want nil")
			}
			if verr == nil || verr.Error() != err.Error() {
				t.Errorf("got Validate error %v, want the same as New's: %v", verr, err)
			}
		})
	}
}

// TestConfigErrorsLeakNoSecret checks that a ConfigError never quotes a
// key.
func TestConfigErrorsLeakNoSecret(t *testing.T) {
	secret := "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
	for _, mutate := range []func(*authsys.Config){
		func(c *authsys.Config) { c.SigningKey = []byte(secret[:20]) },
		func(c *authsys.Config) { c.VerificationKeys = []authsys.Key{{ID: "", Secret: []byte(secret)}} },
		func(c *authsys.Config) { c.TOTPKeys = []authsys.Key{{ID: "t1", Secret: []byte(secret[:10])}} },
		func(c *authsys.Config) { c.FrontendURL = "https://admin:" + secret + "@app.example.com" },
		func(c *authsys.Config) { c.FrontendURL = "https://admin:" + secret + "@app example.com" },
	} {
		cfg := coreValidConfig()
		mutate(&cfg)
		_, err := authsys.New(cfg)
		if err == nil || strings.Contains(err.Error(), secret[:10]) {
			t.Errorf("got %v, want an error that does not quote the secret", err)
		}
	}
}

// TestConfigDefaultsDocumented checks a few defaults through behaviour:
// the documented cookie names, refresh path and rate limits apply when
// the fields are left zero.
func TestConfigDefaultsDocumented(t *testing.T) {
	if got := authsys.DefaultRateLimits(); got[authsys.LimitLogin] != "10/min" || got[authsys.LimitSignup] != "5/min" ||
		got[authsys.LimitPasswordReset] != "5/min" || got[authsys.LimitTwoFactor] != "10/min" {
		t.Errorf("got DefaultRateLimits %v, want login 10/min, signup 5/min, password_reset 5/min, 2fa_verify 10/min", got)
	}
	if p := authsys.DefaultPasswordParams(); p.Memory != 19456 || p.Iterations != 2 || p.Parallelism != 1 {
		t.Errorf("got DefaultPasswordParams %+v, want OWASP's m=19456 t=2 p=1", p)
	}
	e := newEnv(t, func(c *authsys.Config) { c.RateLimits = nil })
	e.signupVerified("user@example.com", goodPassword)
	var last response
	for range 11 {
		last = e.client().post("/login/", map[string]string{"email": "user@example.com", "password": "not the password"})
	}
	expect(t, last, http.StatusTooManyRequests, "throttled")
	if last.Header.Get("Retry-After") == "" {
		t.Error("got no Retry-After on 429")
	}
}

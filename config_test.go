package authsys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		Keys:    authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:   s,
		Pending: s,
		Mailer:  &mail.Outbox{},
		Links:   authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:    authsys.Mail{From: "noreply@example.com"},
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
			c.Keys.Signing.ID = "2026-03_a"
			c.Keys.Verification = []authsys.Key{{ID: "old", Secret: key(32)}}
			c.Keys.TOTP = []authsys.Key{{ID: "t2", Secret: key(32)}, {ID: "t1", Secret: key(40)}}
			c.Links.FrontendURL = "http://localhost:3000/app"
			c.RateLimits = testLimits(map[string]string{limitLogin: "3/min", limitSignup: "100/hour", limitPasswordReset: ""})
			c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}
			c.HTTP.TrustedOrigins = []string{"https://spa.example.com", "http://localhost:5173", "capacitor://localhost"}
			c.Sessions.NativeClients = true
			c.Cookies.Domain = "example.com"
			c.Cookies.RefreshPath = "/auth/refresh/"
			c.Cookies.SameSite = http.SameSiteNoneMode
			c.Sessions.RefreshReuseGrace = -1
			c.Sessions.LogoutOnPasswordChange = true
			c.Passwords.MaxConcurrentHashes = 3
		}, ""},
		{"signing key missing", func(c *authsys.Config) { c.Keys.Signing.Secret = nil }, "Keys.Signing.Secret"},
		{"signing key short", func(c *authsys.Config) { c.Keys.Signing.Secret = key(31) }, "Keys.Signing.Secret"},
		{"signing key id malformed", func(c *authsys.Config) { c.Keys.Signing.ID = "k 1" }, "Keys.Signing.ID"},
		{"verification key short", func(c *authsys.Config) { c.Keys.Verification = []authsys.Key{{ID: "old", Secret: key(16)}} }, "Keys.Verification[0]"},
		{"verification key without ID", func(c *authsys.Config) { c.Keys.Verification = []authsys.Key{{Secret: key(32)}} }, "Keys.Verification[0]"},
		{"verification key ID reused", func(c *authsys.Config) {
			c.Keys.Verification = []authsys.Key{{ID: "old", Secret: key(32)}, {ID: "k1", Secret: key(33)}}
		}, "Keys.Verification[1]"},
		{"TOTP key short", func(c *authsys.Config) { c.Keys.TOTP = []authsys.Key{{ID: "t1", Secret: key(8)}} }, "Keys.TOTP[0]"},
		{"EdDSA with an HS256 verification key", func(c *authsys.Config) {
			c.Keys.Signing.Algorithm = "EdDSA"
			c.Keys.Verification = []authsys.Key{{ID: "old", Secret: key(32), Algorithm: "HS256"}}
		}, ""},
		{"signing algorithm unknown", func(c *authsys.Config) { c.Keys.Signing.Algorithm = "RS256" }, "Keys.Signing.Algorithm"},
		{"signing algorithm none", func(c *authsys.Config) { c.Keys.Signing.Algorithm = "none" }, "Keys.Signing.Algorithm"},
		{"verification key algorithm unknown", func(c *authsys.Config) {
			c.Keys.Verification = []authsys.Key{{ID: "old", Secret: key(32), Algorithm: "hs256"}}
		}, "Keys.Verification[0]"},
		{"TOTP key with an algorithm", func(c *authsys.Config) { c.Keys.TOTP = []authsys.Key{{ID: "t1", Secret: key(32), Algorithm: "EdDSA"}} }, "Keys.TOTP[0]"},
		{"nil Users", func(c *authsys.Config) { c.Users = nil }, "Users"},
		{"nil Pending", func(c *authsys.Config) { c.Pending = nil }, "Pending"},
		{"nil Mailer", func(c *authsys.Config) { c.Mailer = nil }, "Mailer"},
		{"FromEmail missing", func(c *authsys.Config) { c.Mail.From = "" }, "Mail.From"},
		{"FromEmail header injection", func(c *authsys.Config) { c.Mail.From = "a@example.com\r\nBcc: b@example.com" }, "Mail.From"},
		{"FrontendURL missing", func(c *authsys.Config) { c.Links.FrontendURL = "" }, "Links.FrontendURL"},
		{"FrontendURL relative", func(c *authsys.Config) { c.Links.FrontendURL = "/app" }, "Links.FrontendURL"},
		{"FrontendURL other scheme", func(c *authsys.Config) { c.Links.FrontendURL = "javascript://app.example.com" }, "Links.FrontendURL"},
		{"FrontendURL no host", func(c *authsys.Config) { c.Links.FrontendURL = "https://" }, "Links.FrontendURL"},
		{"FrontendURL with query", func(c *authsys.Config) { c.Links.FrontendURL = "https://app.example.com/?next=x" }, "Links.FrontendURL"},
		{"FrontendURL with user", func(c *authsys.Config) { c.Links.FrontendURL = "https://user@app.example.com" }, "Links.FrontendURL"},
		{"FrontendURL unparsable", func(c *authsys.Config) { c.Links.FrontendURL = "https://app example.com/%zz" }, "Links.FrontendURL"},
		{"negative TTL", func(c *authsys.Config) { c.Sessions.AccessTTL = -time.Minute }, "Sessions.AccessTTL"},
		{"access outlives refresh", func(c *authsys.Config) { c.Sessions.AccessTTL = 8 * 24 * time.Hour }, "Sessions.AccessTTL"},
		{"negative request timeout", func(c *authsys.Config) { c.HTTP.RequestTimeout = -time.Second }, "HTTP.RequestTimeout"},
		{"rate without period", func(c *authsys.Config) { c.RateLimits.Login = authsys.Rate{N: 10} }, "RateLimits.Login"},
		{"negative rate", func(c *authsys.Config) { c.RateLimits.Signup = authsys.Rate{N: -5, Per: time.Minute} }, "RateLimits.Signup"},
		{"rate off with a count", func(c *authsys.Config) { c.RateLimits.TwoFactor = authsys.Rate{N: 5, Per: time.Minute, Off: true} }, "RateLimits.TwoFactor"},
		{"bad trusted proxy", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"} }, "HTTP.TrustedProxies"},
		{"bad trusted proxy CIDR", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/33"} }, "HTTP.TrustedProxies"},
		{"bad trusted origin", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"spa.example.com"} }, "HTTP.TrustedOrigins"},
		{"trusted origin with path", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://spa.example.com/app"} }, "HTTP.TrustedOrigins"},
		{"trusted origin with a slash", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://spa.example.com/"} }, "HTTP.TrustedOrigins"},
		{"trusted origin in upper case", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://SPA.example.com"} }, "HTTP.TrustedOrigins"},
		{"trusted origin with the default port", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://spa.example.com:443"} }, "HTTP.TrustedOrigins"},
		{"trusted origin with a user", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://u@spa.example.com"} }, "HTTP.TrustedOrigins"},
		{"trusted origin null", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"null"} }, "HTTP.TrustedOrigins"},
		{"trusted origin wildcard", func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"*"} }, "HTTP.TrustedOrigins"},
		{"SameSite None without Secure", func(c *authsys.Config) {
			c.Cookies.SameSite = http.SameSiteNoneMode
			c.Cookies.Insecure = true
		}, "Cookies.SameSite"},
		{"refresh cookie path relative", func(c *authsys.Config) { c.Cookies.RefreshPath = "api/auth/" }, "Cookies.RefreshPath"},
		{"refresh cookie path with ;", func(c *authsys.Config) { c.Cookies.RefreshPath = "/api;auth/" }, "Cookies.RefreshPath"},
		{"bad access cookie name", func(c *authsys.Config) { c.Cookies.AccessName = "access token" }, "Cookies.AccessName"},
		{"bad refresh cookie name", func(c *authsys.Config) { c.Cookies.RefreshName = "r=t" }, "Cookies.RefreshName"},
		{"same cookie names", func(c *authsys.Config) { c.Cookies.RefreshName = "access_token" }, "Cookies.RefreshName"},
		{"bad cookie domain", func(c *authsys.Config) { c.Cookies.Domain = "exa mple.com" }, "Cookies.Domain"},
		{"bad password params", func(c *authsys.Config) {
			c.Passwords.Params = authsys.PasswordParams{Memory: 4, Iterations: 1, Parallelism: 1}
		}, "Passwords.Params"},
		{"negative MaxConcurrentHashes", func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = -1 }, "Passwords.MaxConcurrentHashes"},
		{"too many backup codes", func(c *authsys.Config) { c.TwoFactor.BackupCodes = 1000 }, "TwoFactor.BackupCodes"},
		{"bad template", func(c *authsys.Config) {
			c.Mail.Templates = &mail.Templates{PasswordReset: mail.Template{Subject: "{{.Nope"}}
		}, "Mail.Templates"},
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
		func(c *authsys.Config) { c.Keys.Signing.Secret = []byte(secret[:20]) },
		func(c *authsys.Config) { c.Keys.Verification = []authsys.Key{{ID: "", Secret: []byte(secret)}} },
		func(c *authsys.Config) { c.Keys.TOTP = []authsys.Key{{ID: "t1", Secret: []byte(secret[:10])}} },
		func(c *authsys.Config) { c.Links.FrontendURL = "https://admin:" + secret + "@app.example.com" },
		func(c *authsys.Config) { c.Links.FrontendURL = "https://admin:" + secret + "@app example.com" },
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
	if p := authsys.DefaultPasswordParams(); p.Memory != 19456 || p.Iterations != 2 || p.Parallelism != 1 {
		t.Errorf("got DefaultPasswordParams %+v, want OWASP's m=19456 t=2 p=1", p)
	}
	e := newEnv(t, func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} })
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

// TestRenderProblem replaces the error format with Config.RenderProblem and
// checks that every error path uses it: a handler's error with field
// errors, the CSRF refusal, the middleware's 401 and a 429 with its
// Retry-After; and that the hook gets the status, the stable code and the
// field errors but never has to show the internal cause.
func TestRenderProblem(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{limitPasswordReset: "1/min"})
		c.Hooks.RenderProblem = func(w http.ResponseWriter, r *http.Request, p *authsys.Problem) {
			w.Header().Set("Content-Type", "application/vnd.app.error+json")
			w.WriteHeader(p.Status)
			fields := make([]string, 0, len(p.Errors))
			for f := range p.Errors {
				fields = append(fields, f)
			}
			json.NewEncoder(w).Encode(map[string]any{"error": p.Code, "fields": fields, "title": p.Title})
		}
	})
	call := func(method, path, body string, header ...string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: body %q is not the custom JSON: %v", method, path, raw, err)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/vnd.app.error+json" {
			t.Errorf("%s %s: got Content-Type %q, want the custom one", method, path, ct)
		}
		return res, v
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"field errors", "POST", "/api/auth/signup/", `{"email":"not-an-email","password":"x"}`, nil, 400, "validation_failed"},
		{"csrf", "POST", "/api/auth/logout/", `{}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "csrf_failed"},
		{"middleware", "GET", "/api/private", "", nil, 401, "not_authenticated"},
		{"not found", "GET", "/api/auth/nope/", "", nil, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, v := call(tc.method, tc.path, tc.body, tc.header...)
			if res.StatusCode != tc.status || v["error"] != tc.code || v["title"] != http.StatusText(tc.status) {
				t.Errorf("got %d %v, want %d with error %s and its title", res.StatusCode, v, tc.status, tc.code)
			}
			if tc.code == "validation_failed" && fmt.Sprint(v["fields"]) == "[]" {
				t.Errorf("got no field errors: %v", v)
			}
		})
	}
	first, err := http.Post(e.srv.URL+"/api/auth/password-reset/", "application/json", strings.NewReader(`{"email":"a@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first password reset: got %d, want 200", first.StatusCode)
	}
	res, v := call("POST", "/api/auth/password-reset/", `{"email":"a@example.com"}`)
	if res.StatusCode != 429 || v["error"] != "throttled" || res.Header.Get("Retry-After") == "" {
		t.Errorf("throttled: got %d %v Retry-After %q, want 429 throttled with Retry-After", res.StatusCode, v, res.Header.Get("Retry-After"))
	}
}

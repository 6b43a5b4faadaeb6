package authsys_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// rlConfig returns a valid Config for New and Validate tests.
func rlConfig() authsys.Config {
	s := memory.New()
	params := cheapParams
	return authsys.Config{
		SigningKey: testKey, Users: s, Pending: s, Mailer: &mail.Outbox{},
		FrontendURL: "https://app.example.com", FromEmail: "noreply@example.com",
		PasswordParams: &params, Logger: discardLogger(),
	}
}

func TestRateLimitConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*authsys.Config)
		field  string // "" = valid
		names  string // the error names this
	}{
		{"nil limits", func(c *authsys.Config) { c.RateLimits = nil }, "", ""},
		{"empty map", func(c *authsys.Config) { c.RateLimits = map[string]string{} }, "", ""},
		{"empty rate", func(c *authsys.Config) { c.RateLimits = map[string]string{authsys.LimitLogin: ""} }, "", ""},
		{"all four", func(c *authsys.Config) {
			c.RateLimits = map[string]string{"login": "10/min", "signup": "5/hour", "password_reset": "100/day", "2fa_verify": "3/1s"}
		}, "", ""},
		{"rate without period", func(c *authsys.Config) { c.RateLimits = map[string]string{"login": "10"} }, "RateLimits[login]", `"10"`},
		{"zero count", func(c *authsys.Config) { c.RateLimits = map[string]string{"signup": "0/min"} }, "RateLimits[signup]", `"0/min"`},
		{"unknown unit", func(c *authsys.Config) { c.RateLimits = map[string]string{"2fa_verify": "5/week"} }, "RateLimits[2fa_verify]", `"5/week"`},
		{"unknown limit", func(c *authsys.Config) { c.RateLimits = map[string]string{"logins": "10/min"} }, "RateLimits", `"logins"`},
		{"proxies", func(c *authsys.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", " 2001:db8::/32 "} }, "", ""},
		{"bad CIDR", func(c *authsys.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, "TrustedProxies", `"10.0.0.0/33"`},
		{"host name as proxy", func(c *authsys.Config) { c.TrustedProxies = []string{"proxy.internal"} }, "TrustedProxies", `"proxy.internal"`},
		{"default hash bound", func(c *authsys.Config) { c.MaxConcurrentHashes = 0 }, "", ""},
		{"negative hash bound", func(c *authsys.Config) { c.MaxConcurrentHashes = -1 }, "MaxConcurrentHashes", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rlConfig()
			tt.mutate(&cfg)
			for what, err := range map[string]error{"Validate": cfg.Validate(), "New": func() error { _, err := authsys.New(cfg); return err }()} {
				if tt.field == "" {
					if err != nil {
						t.Errorf("%s: got %v, want nil", what, err)
					}
					continue
				}
				var ce *authsys.ConfigError
				if !errors.As(err, &ce) || ce.Field != tt.field {
					t.Errorf("%s: got %v, want a *ConfigError for field %s", what, err, tt.field)
					continue
				}
				if !strings.Contains(err.Error(), tt.names) {
					t.Errorf("%s: error %q does not name %s", what, err, tt.names)
				}
			}
		})
	}
}

// TestRateLimitDefaults checks that a nil Config.RateLimits means the
// seed's limits (login and 2FA 10/min, signup and password reset 5/min,
// plus 2FA 50/day per account),
// and that the defaults are what DefaultRateLimits documents: the request
// after the burst is refused until one request comes back, Per/N later.
func TestRateLimitDefaults(t *testing.T) {
	want := map[string]string{"login": "10/min", "signup": "5/min", "password_reset": "5/min", "2fa_verify": "10/min", "2fa_verify_daily": "50/day"}
	if got := authsys.DefaultRateLimits(); !maps.Equal(got, want) {
		t.Fatalf("DefaultRateLimits() = %v, want %v", got, want)
	}
	tests := []struct {
		path   string
		body   func(i int) map[string]string
		budget int
		retry  string
	}{
		{"/login/", func(i int) map[string]string {
			return map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "not the password"}
		}, 10, "6"},
		{"/signup/", func(i int) map[string]string {
			return map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": goodPassword}
		}, 5, "12"},
		{"/password-reset/", func(i int) map[string]string { return map[string]string{"email": fmt.Sprintf("u%d@example.com", i)} }, 5, "12"},
		{"/2fa/verify-login/", func(i int) map[string]string {
			return map[string]string{"session_token": fmt.Sprintf("madeup%016d", i), "code": "123456"}
		}, 10, "6"},
	}
	for _, tt := range tests {
		t.Run(strings.Trim(tt.path, "/"), func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.RateLimits = nil })
			c := e.client()
			for i := range tt.budget {
				if r := c.post(tt.path, tt.body(i)); r.StatusCode == http.StatusTooManyRequests {
					t.Fatalf("request %d of a budget of %d: got 429", i+1, tt.budget)
				}
			}
			rlThrottled(t, c.post(tt.path, tt.body(tt.budget)), tt.retry)
		})
	}
}

// TestRateLimitDisabled checks the ways to turn limits off: an empty map
// turns off all, an empty rate one, and a non-nil map without a name turns
// that one off too (it does not fall back to the default).
func TestRateLimitDisabled(t *testing.T) {
	tests := []struct {
		name      string
		limits    map[string]string
		loginOff  bool
		resetTrip bool
	}{
		{"empty map", map[string]string{}, true, false},
		{"empty rate", map[string]string{authsys.LimitLogin: "", authsys.LimitPasswordReset: "1/min"}, true, true},
		{"missing name", map[string]string{authsys.LimitPasswordReset: "1/min"}, true, true},
		{"only login", map[string]string{authsys.LimitLogin: "1/min"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.RateLimits = tt.limits })
			c := e.client()
			for i := range 30 {
				r := c.post("/login/", map[string]string{"email": rlVictim, "password": "not the password"})
				if got := r.StatusCode == http.StatusTooManyRequests; got != (!tt.loginOff && i >= 1) {
					t.Fatalf("login %d: got status %d, want throttled %v", i+1, r.StatusCode, !tt.loginOff && i >= 1)
				}
			}
			for i := range 2 {
				r := c.post("/password-reset/", map[string]string{"email": rlVictim})
				if got := r.StatusCode == http.StatusTooManyRequests; got != (tt.resetTrip && i == 1) {
					t.Fatalf("reset %d: got status %d, want throttled %v", i+1, r.StatusCode, tt.resetTrip && i == 1)
				}
			}
		})
	}
}

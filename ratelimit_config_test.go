package authsys_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// rlConfig returns a valid Config for New and Validate tests.
func rlConfig() authsys.Config {
	s := memory.New()
	params := cheapParams
	return authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:     s,
		Pending:   s,
		Mailer:    &mail.Outbox{},
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: params},
		Logger:    discardLogger(),
	}
}

func TestRateLimitConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*authsys.Config)
		field  string // "" = valid
		names  string // the error names this
	}{
		{"zero limits", func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} }, "", ""},
		{"all off", func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{Off: true} }, "", ""},
		{"one off", func(c *authsys.Config) { c.RateLimits.Login = authsys.Rate{Off: true} }, "", ""},
		{"all five", func(c *authsys.Config) {
			c.RateLimits = testLimits(map[string]string{"login": "10/min", "signup": "5/hour", "password_reset": "100/day", "2fa_verify": "3/1s", "2fa_verify_daily": "20/day"})
		}, "", ""},
		{"rate without period", func(c *authsys.Config) { c.RateLimits.Login = authsys.Rate{N: 10} }, "RateLimits.Login", "positive"},
		{"zero count", func(c *authsys.Config) { c.RateLimits.Signup = authsys.Rate{Per: time.Minute} }, "RateLimits.Signup", "0/1m0s"},
		{"negative period", func(c *authsys.Config) { c.RateLimits.TwoFactor = authsys.Rate{N: 5, Per: -time.Minute} }, "RateLimits.TwoFactor", "5/-1m0s"},
		{"off with a rate", func(c *authsys.Config) { c.RateLimits.TwoFactorDaily = authsys.Rate{N: 5, Per: time.Hour, Off: true} }, "RateLimits.TwoFactorDaily", "Off"},
		{"proxies", func(c *authsys.Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", " 2001:db8::/32 "}
		}, "", ""},
		{"bad CIDR", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, "HTTP.TrustedProxies", `"10.0.0.0/33"`},
		{"host name as proxy", func(c *authsys.Config) { c.HTTP.TrustedProxies = []string{"proxy.internal"} }, "HTTP.TrustedProxies", `"proxy.internal"`},
		{"default hash bound", func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = 0 }, "", ""},
		{"negative hash bound", func(c *authsys.Config) { c.Passwords.MaxConcurrentHashes = -1 }, "Passwords.MaxConcurrentHashes", "negative"},
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

// TestRateLimitDefaults checks that a zero Config.RateLimits means the
// seed's limits (login and 2FA 10/min, signup and password reset 5/min,
// plus 2FA 50/day per account),
// and that the defaults are what RateLimits documents: the request
// after the burst is refused until one request comes back, Per/N later.
func TestRateLimitDefaults(t *testing.T) {
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
			e := newEnv(t, func(c *authsys.Config) { c.RateLimits = authsys.RateLimits{} })
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

// TestRateLimitDisabled checks the ways to turn limits off: RateLimits.Off
// turns off all, Rate.Off one, and a zero Rate is the default, not off.
func TestRateLimitDisabled(t *testing.T) {
	minute := func(n int) authsys.Rate { return authsys.Rate{N: n, Per: time.Minute} }
	off := authsys.Rate{Off: true}
	tests := []struct {
		name      string
		limits    authsys.RateLimits
		loginOff  bool
		resetTrip bool
	}{
		{"all off", authsys.RateLimits{Off: true, Login: minute(1), PasswordReset: minute(1)}, true, false},
		{"login off", authsys.RateLimits{Login: off, PasswordReset: minute(1)}, true, true},
		{"only login", authsys.RateLimits{Login: minute(1), PasswordReset: off}, false, false},
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

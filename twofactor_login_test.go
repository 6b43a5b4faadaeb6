package authsys_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/totp"
)

// TestTwoFactorLoginHandoff walks the two-step login: the password gives a
// session token and no cookies; the code gives the same cookies and body as
// a password login.
func TestTwoFactorLoginHandoff(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("handoff@example.com")
	c, token := e.tfaLogin(u.email)
	if c.accessCookie() != "" || c.refreshCookie() != "" {
		t.Fatal("the password step set cookies")
	}
	expect(t, c.get("/me/"), http.StatusUnauthorized, "not_authenticated")
	r := c.tfaVerify(token, e.tfaFreshCode(u.secret))
	expect(t, r, http.StatusOK, "")
	m := r.json(t)
	user, _ := m["user"].(map[string]any)
	if user["email"] != u.email || user["two_factor_enabled"] != true || m["requires_2fa"] != false || m["session_token"] != nil {
		t.Errorf("got %s, want requires_2fa false and the user", r.body)
	}
	if c.accessCookie() == "" || c.refreshCookie() == "" {
		t.Fatal("verify-login set no cookies")
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	ev := tfaEvent(e, "login_succeeded")
	if ev == nil || ev.Reason != "2fa_totp" {
		t.Errorf("got login event %+v, want reason 2fa_totp", ev)
	}
	// The session worked once.
	expect(t, e.client().tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusUnauthorized, "session_expired")
	// The code may carry surrounding white space, the backup code any case
	// and separators.
	c, token = e.tfaLogin(u.email)
	expect(t, c.tfaVerify(token, " "+e.tfaFreshCode(u.secret)+"\n"), http.StatusOK, "")
	c, token = e.tfaLogin(u.email)
	expect(t, c.tfaVerify(token, strings.ToUpper(strings.ReplaceAll(u.backup[0], "-", " "))), http.StatusOK, "")
	if ev := tfaEvent(e, "login_succeeded"); ev == nil || ev.Reason != "2fa_backup_code" {
		t.Errorf("got login event %+v, want reason 2fa_backup_code", ev)
	}
}

// TestTwoFactorSessionToken checks that the session token is an opaque
// 128-bit random value, not a JWT, and that the PendingStore never sees it
// raw: its key is derived from the token's hash, under
// Sessions.KeyPrefix + "pending:".
func TestTwoFactorSessionToken(t *testing.T) {
	rec := &tfaRecordingPending{}
	e := newEnv(t, func(c *authsys.Config) {
		c.Sessions.KeyPrefix = "custom:"
		rec.PendingStore = c.Pending
		c.Pending = rec
	})
	u := e.tfaEnabled("token@example.com")
	tokens := map[string]bool{}
	for range 5 {
		_, token := e.tfaLogin(u.email)
		if strings.Count(token, ".") != 0 {
			t.Errorf("session token %q looks like a JWT", token)
		}
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) != 16 {
			t.Errorf("session token %q: want 16 random bytes in base64url", token)
		}
		if tokens[token] {
			t.Errorf("session token %q issued twice", token)
		}
		tokens[token] = true
	}
	keys := rec.keys()
	sessions := 0
	for _, k := range keys {
		for tok := range tokens {
			if strings.Contains(k.key, tok) || strings.Contains(string(k.value), tok) {
				t.Errorf("PendingStore write %q = %q holds the raw token %q", k.key, k.value, tok)
			}
		}
		if strings.HasPrefix(k.key, "custom:pending:") && strings.Contains(string(k.value), `"uid"`) {
			sessions++
			if k.ttl != 5*time.Minute {
				t.Errorf("session %q stored for %v, want 5m", k.key, k.ttl)
			}
		}
	}
	if sessions != 5 {
		t.Errorf("got %d session records under custom:pending:, want 5; writes %v", sessions, keys)
	}
	for tok := range tokens {
		for _, k := range []string{tok, "custom:pending:" + tok, "auth:pending:" + tok} {
			if _, err := rec.GetPending(t.Context(), k); err != store.ErrNotFound {
				t.Errorf("GetPending(%q): got %v, want ErrNotFound", k, err)
			}
		}
	}
}

// tfaRecordingPending records every write to a PendingStore.
type tfaRecordingPending struct {
	authsys.PendingStore
	mu     sync.Mutex
	writes []tfaWrite
}

type tfaWrite struct {
	key   string
	value []byte
	ttl   time.Duration
}

func (p *tfaRecordingPending) record(key string, value []byte, ttl time.Duration) {
	p.mu.Lock()
	p.writes = append(p.writes, tfaWrite{key, append([]byte(nil), value...), ttl})
	p.mu.Unlock()
}

func (p *tfaRecordingPending) keys() []tfaWrite {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tfaWrite(nil), p.writes...)
}

func (p *tfaRecordingPending) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	p.record(key, value, ttl)
	return p.PendingStore.PutPending(ctx, key, value, ttl)
}

func (p *tfaRecordingPending) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	p.record(key, value, ttl)
	return p.PendingStore.AddPendingIfAbsent(ctx, key, value, ttl)
}

func (p *tfaRecordingPending) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	p.record(key, nil, ttl)
	return p.PendingStore.IncrPending(ctx, key, ttl)
}

// TestTwoFactorSkew checks the accepted window: the previous, current and
// next 30-second steps, not two away. Each case starts long after the
// enabling code, so that a refusal is the window's, not the replay guard's.
func TestTwoFactorSkew(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"two steps back", -2 * totp.Period, false},
		{"previous step", -totp.Period, true},
		{"current step", 0, true},
		{"next step", totp.Period, true},
		{"two steps ahead", 2 * totp.Period, false},
		{"an hour back", -time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.tfaEnabled("skew@example.com")
			e.clock.Advance(2*time.Hour + 13*time.Second) // mid-step, far from the enabling code
			c, token := e.tfaLogin(u.email)
			r := c.tfaVerify(token, tfaCodeAt(t, u.secret, e.clock.Now().Add(tt.offset)))
			if tt.ok {
				expect(t, r, http.StatusOK, "")
			} else {
				expect(t, r, http.StatusBadRequest, "invalid_code")
			}
		})
	}
}

// TestTwoFactorReplay checks that a TOTP code is accepted once, that a code
// older than the last accepted one is refused, and that the guard holds
// across verify-login, enable, disable and regenerate.
func TestTwoFactorReplay(t *testing.T) {
	t.Run("same code within its step", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("replay@example.com")
		code := e.tfaFreshCode(u.secret)
		c, token := e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, code), http.StatusOK, "")
		e.clock.Advance(5 * time.Second) // same step
		c, token = e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, code), http.StatusBadRequest, "invalid_code")
		expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusOK, "")
	})
	t.Run("older step after newer", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("older@example.com")
		e.clock.Advance(time.Hour)
		now := e.clock.Now()
		c, token := e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, tfaCodeAt(t, u.secret, now.Add(totp.Period))), http.StatusOK, "")
		c, token = e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, tfaCodeAt(t, u.secret, now)), http.StatusBadRequest, "invalid_code")
		expect(t, c.tfaVerify(token, tfaCodeAt(t, u.secret, now.Add(-totp.Period))), http.StatusBadRequest, "invalid_code")
	})
	t.Run("enabling code", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("enabling@example.com")
		c, token := e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, tfaCodeAt(t, u.secret, e.clock.Now())), http.StatusBadRequest, "invalid_code")
	})
	t.Run("every endpoint", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("everywhere@example.com")
		code := e.tfaFreshCode(u.secret)
		c, token := e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, code), http.StatusOK, "")
		expect(t, u.c.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": code}), http.StatusBadRequest, "invalid_code")
		expect(t, u.c.post("/2fa/backup-codes/", map[string]string{"code": code}), http.StatusBadRequest, "invalid_code")
		if got := u.c.tfaRemaining(); got != 10 {
			t.Fatalf("got %d codes left, want 10", got)
		}
		// A code used by regenerate is then refused at login.
		code = e.tfaFreshCode(u.secret)
		expect(t, u.c.post("/2fa/backup-codes/", map[string]string{"code": code}), http.StatusOK, "")
		c, token = e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, code), http.StatusBadRequest, "invalid_code")
		// A code used by disable: the guard outlives 2FA, so even a new
		// secret's code of the same step is refused by enable.
		code = e.tfaFreshCode(u.secret)
		expect(t, u.c.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": code}), http.StatusOK, "")
		secret := u.c.tfaSetup()
		now := e.clock.Now()
		expect(t, u.c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, now)}), http.StatusBadRequest, "invalid_code")
		expect(t, u.c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, now.Add(-totp.Period))}), http.StatusBadRequest, "invalid_code")
		expect(t, u.c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, now.Add(totp.Period))}), http.StatusOK, "")
	})
}

// TestTwoFactorSessionExpiry checks that a pending session dies after its
// TTL (the fake clock drives the memory store).
func TestTwoFactorSessionExpiry(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration // Config.PendingSessionTTL; 0 = default 300 s
		elapsed time.Duration
		ok      bool
	}{
		{"default, just before", 0, 5*time.Minute - time.Second, true},
		{"default, at expiry", 0, 5 * time.Minute, false},
		{"default, long after", 0, time.Hour, false},
		{"60 s, just before", time.Minute, time.Minute - time.Second, true},
		{"60 s, at expiry", time.Minute, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.TwoFactor.PendingLoginTTL = tt.ttl })
			u := e.tfaEnabled("ttl@example.com")
			c, token := e.tfaLogin(u.email)
			e.clock.Advance(tt.elapsed)
			r := c.tfaVerify(token, tfaCodeAt(t, u.secret, e.clock.Now()))
			if tt.ok {
				expect(t, r, http.StatusOK, "")
			} else {
				expect(t, r, http.StatusUnauthorized, "session_expired")
			}
		})
	}
}

// TestTwoFactorWrongCodes checks that a pending session survives four wrong
// codes and dies at the fifth, whatever the mistake: a wrong TOTP or backup
// code, or any malformed code.
func TestTwoFactorWrongCodes(t *testing.T) {
	t.Run("four wrong then right", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("four@example.com")
		c, token := e.tfaLogin(u.email)
		for range 4 {
			expect(t, c.tfaVerify(token, e.tfaWrongCode(u.secret)), http.StatusBadRequest, "invalid_code")
		}
		expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusOK, "")
	})
	t.Run("five wrong", func(t *testing.T) {
		e := newEnv(t)
		u := e.tfaEnabled("five@example.com")
		c, token := e.tfaLogin(u.email)
		wrong := []string{e.tfaWrongCode(u.secret), "zzzzz-zzzzz", e.tfaWrongCode(u.secret), "abcde-fghjk", e.tfaWrongCode(u.secret)}
		for _, w := range wrong {
			expect(t, c.tfaVerify(token, w), http.StatusBadRequest, "invalid_code")
		}
		expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusUnauthorized, "session_expired")
		expect(t, c.tfaVerify(token, u.backup[0]), http.StatusUnauthorized, "session_expired")
		if ev := tfaEvent(e, "two_factor_failed"); ev == nil || ev.Reason != "login_session_destroyed" {
			t.Errorf("got last failure event %+v, want reason login_session_destroyed", ev)
		}
		// A new login starts afresh, and the refused backup code is unused.
		c, token = e.tfaLogin(u.email)
		expect(t, c.tfaVerify(token, u.backup[0]), http.StatusOK, "")
	})
	for _, m := range tfaMalformed {
		t.Run("malformed "+m.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.tfaEnabled("malformed@example.com")
			c, token := e.tfaLogin(u.email)
			for range 5 {
				r := c.tfaVerify(token, m.code)
				expect(t, r, http.StatusBadRequest, "")
				if code := r.code(); code != "invalid_code" && code != "validation_failed" {
					t.Fatalf("got code %q, want invalid_code or validation_failed", code)
				}
			}
			expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusUnauthorized, "session_expired")
		})
	}
}

// TestTwoFactorSessionRevoked checks that a pending session dies when the
// account changes between the password step and the code: password
// changed, every session revoked, 2FA turned off.
func TestTwoFactorSessionRevoked(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *env, u *tfaUser)
	}{
		{"password changed", func(e *env, u *tfaUser) {
			expect(e.t, u.c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"}), http.StatusOK, "")
		}},
		{"password reset", func(e *env, u *tfaUser) {
			expect(e.t, e.client().post("/password-reset/", map[string]string{"email": u.email}), http.StatusOK, "")
			q := linkParams(e.t, e.waitMail(u.email))
			expect(e.t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "another long passphrase"}), http.StatusOK, "")
		}},
		{"logout-all", func(e *env, u *tfaUser) {
			expect(e.t, u.c.post("/logout-all/", nil), http.StatusOK, "")
		}},
		{"2fa disabled", func(e *env, u *tfaUser) {
			expect(e.t, u.c.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": u.backup[9]}), http.StatusOK, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.tfaEnabled("revoked@example.com")
			c, token := e.tfaLogin(u.email)
			tt.change(e, u)
			expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusUnauthorized, "session_expired")
			expect(t, c.tfaVerify(token, u.backup[0]), http.StatusUnauthorized, "session_expired")
			if c.accessCookie() != "" {
				t.Error("a revoked session set cookies")
			}
		})
	}
	// Control: without a change the same steps log in.
	e := newEnv(t)
	u := e.tfaEnabled("control@example.com")
	c, token := e.tfaLogin(u.email)
	expect(t, c.tfaVerify(token, e.tfaFreshCode(u.secret)), http.StatusOK, "")
}

// TestTwoFactorSessionLimit checks that a user has at most five live
// pending sessions: the sixth login kills the first, and the other five
// all work.
func TestTwoFactorSessionLimit(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("limit@example.com")
	var tokens []string
	for range 6 {
		_, token := e.tfaLogin(u.email)
		tokens = append(tokens, token)
	}
	c := e.client()
	expect(t, c.tfaVerify(tokens[0], u.backup[0]), http.StatusUnauthorized, "session_expired")
	for i, token := range tokens[1:] {
		expect(t, e.client().tfaVerify(token, u.backup[i+1]), http.StatusOK, "")
	}
	if got := u.c.tfaRemaining(); got != 5 {
		t.Errorf("got %d codes left, want 5", got)
	}
	// Another user's logins do not count against this one.
	v := e.tfaEnabled("other@example.com")
	_, first := e.tfaLogin(u.email)
	for range 5 {
		e.tfaLogin(v.email)
	}
	expect(t, e.client().tfaVerify(first, u.backup[9]), http.StatusOK, "")
}

// TestTwoFactorVerifyThrottled checks the 2fa_verify rate limit on
// verify-login, counted per account across sessions.
func TestTwoFactorVerifyThrottled(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.RateLimits = testLimits(map[string]string{limitTwoFactor: "3/min"}) })
	u := e.tfaEnabled("throttle@example.com") // enable counts one attempt
	c, token := e.tfaLogin(u.email)
	expect(t, c.tfaVerify(token, e.tfaWrongCode(u.secret)), http.StatusBadRequest, "invalid_code")
	expect(t, c.tfaVerify(token, e.tfaWrongCode(u.secret)), http.StatusBadRequest, "invalid_code")
	_, token2 := e.tfaLogin(u.email)
	r := c.tfaVerify(token2, u.backup[0])
	expect(t, r, http.StatusTooManyRequests, "throttled")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The event names the limit as Config.RateLimits does (here the IP's
	// budget refused first, so it names no account).
	e.events.mu.Lock()
	var throttled []authsys.Event
	for _, ev := range e.events.ev {
		if ev.Kind == "throttled" {
			throttled = append(throttled, ev)
		}
	}
	e.events.mu.Unlock()
	if len(throttled) != 1 || throttled[0].Reason != limitTwoFactor {
		t.Errorf("got throttled events %+v, want one with reason %s", throttled, limitTwoFactor)
	}
	e.clock.Advance(time.Minute)
	expect(t, c.tfaVerify(token2, u.backup[0]), http.StatusOK, "")
}

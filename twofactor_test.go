package authsys_test

// Two-factor authentication: setup, enable, disable, backup codes, the
// second step of login, and their races.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
)

// TestTwoFactorChangesRacingARevocation commits a revocation between the
// password check of /2fa/disable/ (and of a backup-code regeneration) and
// its write: the change is refused, and 2FA and the codes stay as they
// were.
func TestTwoFactorChangesRacingARevocation(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"disable", "/2fa/disable/"},
		{"regenerate", "/2fa/backup-codes/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spy *authtest.Spy
			e := newEnv(t, spyOn(&spy))
			u := e.tfaEnabled("twofa@example.com")
			before := coreUser(e, u.email)
			hook := func() {
				if _, err := e.store.UpdateUser(context.Background(), before.ID, func(x *authsys.User) error { x.TokenVersion++; return nil }); err != nil {
					t.Error(err)
				}
			}
			hookOnce(spy, hook)
			body := map[string]string{"password": goodPassword, "code": e.tfaFreshCode(u.secret)}
			expect(t, u.c.post(tc.path, body), http.StatusUnauthorized, "invalid_token")
			after := coreUser(e, u.email)
			if !after.TOTPEnabled || !sameHashes(before.BackupCodes, after.BackupCodes) {
				t.Errorf("the refused request changed 2FA: enabled %t, codes changed %t", after.TOTPEnabled, !sameHashes(before.BackupCodes, after.BackupCodes))
			}
		})
	}
}

// Helpers of the 2FA tests. Names start with tfa.

// tfaUser is an account with 2FA enabled.
type tfaUser struct {
	email  string
	c      *client // logged in before 2FA was enabled; its cookies stay valid
	secret string
	backup []string
}

// tfaSetup posts /2fa/setup/ and returns the new secret.
func (c *client) tfaSetup() string {
	c.e.t.Helper()
	r := c.post("/2fa/setup/", nil)
	expect(c.e.t, r, http.StatusOK, "")
	secret, _ := r.json(c.e.t)["secret"].(string)
	if secret == "" {
		c.e.t.Fatalf("setup returned no secret: %s", r.body)
	}
	return secret
}

// tfaEnabled signs up email, logs in, sets up 2FA and enables it with the
// code of the current step, which is then used.
func (e *env) tfaEnabled(email string) *tfaUser {
	e.t.Helper()
	e.signupVerified(email, goodPassword)
	u := &tfaUser{email: email, c: e.loggedIn(email, goodPassword)}
	u.secret = u.c.tfaSetup()
	r := u.c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(e.t, u.secret, e.clock.Now())})
	expect(e.t, r, http.StatusOK, "")
	u.backup = tfaCodes(e.t, r)
	return u
}

// tfaCodes returns the backup_codes of a response.
func tfaCodes(t *testing.T, r response) []string {
	t.Helper()
	var body struct {
		BackupCodes []string `json:"backup_codes"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("backup codes response: %v: %s", err, r.body)
	}
	if len(body.BackupCodes) != 10 {
		t.Fatalf("got %d backup codes, want 10: %s", len(body.BackupCodes), r.body)
	}
	return body.BackupCodes
}

// tfaCodeAt returns the TOTP code of secret at t.
func tfaCodeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.Code(secret, at)
	if err != nil {
		t.Fatalf("totp.Code: %v", err)
	}
	return code
}

// tfaFreshCode moves the clock to the next TOTP step and returns its code,
// so that it is newer than every code used before.
func (e *env) tfaFreshCode(secret string) string {
	e.t.Helper()
	e.clock.Advance(totp.Period)
	return tfaCodeAt(e.t, secret, e.clock.Now())
}

// tfaLogin logs in with the password of a 2FA account from a fresh client
// and returns the client and the pending session token; it checks that no
// cookie was set.
func (e *env) tfaLogin(email string) (*client, string) {
	e.t.Helper()
	c := e.client()
	r := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(e.t, r, http.StatusOK, "")
	var body struct {
		Requires2FA  *bool          `json:"requires_2fa"`
		SessionToken string         `json:"session_token"`
		User         map[string]any `json:"user"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		e.t.Fatal(err)
	}
	if body.Requires2FA == nil || !*body.Requires2FA || body.SessionToken == "" || body.User != nil {
		e.t.Fatalf("login of a 2FA account: got %s, want requires_2fa true, a session_token and no user", r.body)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		e.t.Fatalf("login of a 2FA account set cookies %q, want none before the second factor", sc)
	}
	return c, body.SessionToken
}

// tfaVerify posts /2fa/verify-login/.
func (c *client) tfaVerify(token, code string) response {
	c.e.t.Helper()
	return c.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": code})
}

// tfaRemaining returns the number of unused backup codes from
// GET /2fa/backup-codes/.
func (c *client) tfaRemaining() int {
	c.e.t.Helper()
	r := c.get("/2fa/backup-codes/")
	expect(c.e.t, r, http.StatusOK, "")
	var body struct{ Remaining int }
	if err := json.Unmarshal(r.body, &body); err != nil {
		c.e.t.Fatal(err)
	}
	return body.Remaining
}

// tfaOutcome is the result of a request made off the test goroutine, where
// t.Fatal must not be called.
type tfaOutcome struct {
	status  int
	code    string // problem code
	cookies int    // Set-Cookie headers
	body    []byte
	err     error
}

// tfaPost posts body as JSON to the auth API through hc, safe to call from
// any goroutine. Like client.do it runs the harness checks on the call
// (harnessSend).
func (e *env) tfaPost(hc *http.Client, path string, body any) tfaOutcome {
	raw, err := json.Marshal(body)
	if err != nil {
		return tfaOutcome{err: err}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/auth"+path, bytes.NewReader(raw))
	if err != nil {
		return tfaOutcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	res, b, err := e.harnessSend(hc, req, raw)
	if err != nil {
		return tfaOutcome{err: err}
	}
	var p struct{ Code string }
	_ = json.Unmarshal(b, &p)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		err = &tfaNotProblem{res.StatusCode, res.Header.Get("Content-Type")}
	}
	return tfaOutcome{status: res.StatusCode, code: p.Code, cookies: len(res.Header.Values("Set-Cookie")), body: b, err: err}
}

type tfaNotProblem struct {
	status int
	ct     string
}

func (e *tfaNotProblem) Error() string {
	return "status " + http.StatusText(e.status) + " with Content-Type " + e.ct + ", want application/problem+json"
}

// tfaTally counts outcomes by "status code".
func tfaTally(outs []tfaOutcome) map[string]int {
	m := map[string]int{}
	for _, o := range outs {
		m[strings.TrimSpace(http.StatusText(o.status)+" "+o.code)]++
	}
	return m
}

// tfaUnmarshal decodes JSON or fails the test.
func tfaUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestTwoFactorSetup checks what setup returns: a base32 secret, its
// otpauth URI, and a PNG QR code that decodes back to that URI.
func TestTwoFactorSetup(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.TwoFactor.Issuer = "ACME Co" })
	e.signupVerified("qr@example.com", goodPassword)
	c := e.loggedIn("qr@example.com", goodPassword)
	r := c.post("/2fa/setup/", nil)
	expect(t, r, http.StatusOK, "")
	var body struct {
		Secret     string `json:"secret"`
		OTPAuthURL string `json:"otpauth_url"`
		QRCode     string `json:"qr_code"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Secret) != 32 || strings.Trim(body.Secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("got secret %q, want 32 characters of base32", body.Secret)
	}
	u, err := url.Parse(body.OTPAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/ACME Co:qr@example.com" ||
		q.Get("secret") != body.Secret || q.Get("issuer") != "ACME Co" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("got otpauth_url %q, want otpauth://totp/ACME%%20Co:qr@example.com with the secret, issuer, SHA1, 6 digits, 30 s", body.OTPAuthURL)
	}
	if got, _ := testenv.DecodeQR(t, body.QRCode); got != body.OTPAuthURL {
		t.Errorf("QR code decodes to %q, want %q", got, body.OTPAuthURL)
	}
	// Setup may be called with an empty JSON object too, and then
	// replaces the secret.
	r = c.post("/2fa/setup/", map[string]any{})
	expect(t, r, http.StatusOK, "")
	if s := r.json(t)["secret"]; s == body.Secret {
		t.Errorf("second setup returned the same secret %v, want a new one", s)
	}
	expect(t, c.post("/2fa/setup/", map[string]any{"x": 1}), http.StatusBadRequest, "invalid_json")
}

// TestTwoFactorEnable enables 2FA and checks the backup codes and the
// account state.
func TestTwoFactorEnable(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("enable@example.com")
	seen := map[string]bool{}
	for _, c := range u.backup {
		if _, ok := totp.NormalizeBackupCode(c); !ok || seen[c] {
			t.Errorf("backup code %q: want distinct well-formed codes", c)
		}
		seen[c] = true
	}
	r := u.c.get("/me/")
	expect(t, r, http.StatusOK, "")
	if got := r.json(t)["user"].(map[string]any)["two_factor_enabled"]; got != true {
		t.Errorf("got two_factor_enabled %v, want true", got)
	}
	if !e.events.has("two_factor_enabled") {
		t.Errorf("got events %v, want two_factor_enabled", e.events.kinds())
	}
	// The cookies issued before 2FA stay valid; the next login needs the
	// second factor.
	e.tfaLogin(u.email)
}

// TestTwoFactorOathtool enables 2FA with a code computed by oathtool, an
// independent RFC 6238 implementation, at the fake clock's time.
func TestTwoFactorOathtool(t *testing.T) {
	bin, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.Skip(t, "oathtool is not installed (apt-get install oathtool); skipping the cross-check with an independent TOTP implementation")
	}
	e := newEnv(t)
	e.clock.Advance(17 * time.Second) // mid-step
	e.signupVerified("oath@example.com", goodPassword)
	c := e.loggedIn("oath@example.com", goodPassword)
	secret := c.tfaSetup()
	now := e.clock.Now().UTC().Format("2006-01-02 15:04:05 UTC")
	out, err := exec.CommandContext(t.Context(), bin, "--totp", "-b", secret, "--now", now).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if want := tfaCodeAt(t, secret, e.clock.Now()); code != want {
		t.Errorf("oathtool gave %q at %s, totp.Code %q", code, now, want)
	}
	expect(t, c.post("/2fa/enable/", map[string]string{"code": code}), http.StatusOK, "")
	_, token := e.tfaLogin("oath@example.com")
	out, err = exec.CommandContext(t.Context(), bin, "--totp", "-b", secret, "--now",
		e.clock.Now().Add(totp.Period).UTC().Format("2006-01-02 15:04:05 UTC")).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	expect(t, e.client().tfaVerify(token, strings.TrimSpace(string(out))), http.StatusOK, "")
}

// TestTwoFactorSetupTwice checks that setup again before enable replaces
// the unconfirmed secret: the first secret's code is refused.
func TestTwoFactorSetupTwice(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("twice@example.com", goodPassword)
	c := e.loggedIn("twice@example.com", goodPassword)
	first := c.tfaSetup()
	second := c.tfaSetup()
	if first == second {
		t.Fatal("two setups gave the same secret")
	}
	now := e.clock.Now()
	expect(t, c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, first, now)}), http.StatusBadRequest, "invalid_code")
	u, err := e.store.UserByEmail(t.Context(), "twice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.TOTPEnabled {
		t.Fatal("the first secret's code enabled 2FA")
	}
	ev := tfaEvent(e, "two_factor_failed")
	if ev == nil || ev.UserID != u.ID || ev.Reason != "enable" {
		t.Errorf("got failure event %+v, want one for user %s with reason enable", ev, u.ID)
	}
	expect(t, c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, second, now)}), http.StatusOK, "")
}

// tfaEvent returns the last event of kind, or nil.
func tfaEvent(e *env, kind string) *authsys.Event {
	evs := e.events.list()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			ev := evs[i]
			return &ev
		}
	}
	return nil
}

// TestTwoFactorStateErrors checks the answers of every 2FA endpoint in the
// wrong state or without credentials.
func TestTwoFactorStateErrors(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("plain@example.com", goodPassword)
	plain := e.loggedIn("plain@example.com", goodPassword)
	on := e.tfaEnabled("on@example.com")
	anon := e.client()
	code := tfaCodeAt(t, on.secret, e.clock.Now())
	tests := []struct {
		name         string
		c            *client
		method, path string
		body         any
		status       int
		code         string
	}{
		{"setup while enabled", on.c, "POST", "/2fa/setup/", nil, 409, "two_factor_already_enabled"},
		{"enable while enabled", on.c, "POST", "/2fa/enable/", map[string]string{"code": code}, 409, "two_factor_already_enabled"},
		{"enable before setup", plain, "POST", "/2fa/enable/", map[string]string{"code": "123456"}, 409, "two_factor_not_set_up"},
		{"disable while off", plain, "POST", "/2fa/disable/", map[string]string{"password": goodPassword, "code": "123456"}, 409, "two_factor_not_enabled"},
		{"list while off", plain, "GET", "/2fa/backup-codes/", nil, 409, "two_factor_not_enabled"},
		{"regenerate while off", plain, "POST", "/2fa/backup-codes/", map[string]string{"password": goodPassword}, 409, "two_factor_not_enabled"},
		{"setup anonymous", anon, "POST", "/2fa/setup/", nil, 401, "not_authenticated"},
		{"enable anonymous", anon, "POST", "/2fa/enable/", map[string]string{"code": "123456"}, 401, "not_authenticated"},
		{"disable anonymous", anon, "POST", "/2fa/disable/", map[string]string{"password": goodPassword, "code": "123456"}, 401, "not_authenticated"},
		{"list anonymous", anon, "GET", "/2fa/backup-codes/", nil, 401, "not_authenticated"},
		{"regenerate anonymous", anon, "POST", "/2fa/backup-codes/", map[string]string{"password": goodPassword}, 401, "not_authenticated"},
		{"setup with GET", on.c, "GET", "/2fa/setup/", nil, 405, "method_not_allowed"},
		{"verify-login with GET", anon, "GET", "/2fa/verify-login/", nil, 405, "method_not_allowed"},
		{"verify-login unknown token", anon, "POST", "/2fa/verify-login/", map[string]string{"session_token": "AAAAAAAAAAAAAAAAAAAAAA", "code": "123456"}, 401, "session_expired"},
		{"verify-login huge token", anon, "POST", "/2fa/verify-login/", map[string]string{"session_token": strings.Repeat("A", 10_000), "code": "123456"}, 401, "session_expired"},
		{"verify-login no token", anon, "POST", "/2fa/verify-login/", map[string]string{"code": "123456"}, 400, "validation_failed"},
		{"verify-login unknown field", anon, "POST", "/2fa/verify-login/", map[string]string{"session_token": "x", "code": "1", "user": "x"}, 400, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.do(tt.method, "/api/auth"+tt.path, tt.body)
			expect(t, r, tt.status, tt.code)
		})
	}
	// Nothing above changed the accounts.
	if u, _ := e.store.UserByEmail(t.Context(), "plain@example.com"); u.TOTPEnabled || u.TOTPPendingSecret != "" {
		t.Error("plain account changed")
	}
	if got := on.c.tfaRemaining(); got != 10 {
		t.Errorf("got %d backup codes left, want 10", got)
	}
}

// TestTwoFactorSecretNeverShownAgain checks that once 2FA is on no endpoint
// returns the secret or the otpauth URI again, that the stored row holds
// neither the secret nor the backup codes in plaintext, and that no event
// or log line carries a secret, code or session token.
func TestTwoFactorSecretNeverShownAgain(t *testing.T) {
	var logs bytes.Buffer
	var logMu tfaSyncWriter
	logMu.w = &logs
	e := newEnv(t, func(c *authsys.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logMu, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.signupVerified("secret@example.com", goodPassword)
	c := e.loggedIn("secret@example.com", goodPassword)
	secret := c.tfaSetup()
	pending, _ := e.store.UserByEmail(t.Context(), "secret@example.com")
	if pending.TOTPPendingSecret == "" || tfaLeaks(pending.TOTPPendingSecret, secret) {
		t.Errorf("stored pending secret %q: want it encrypted", pending.TOTPPendingSecret)
	}
	r := c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())})
	expect(t, r, http.StatusOK, "")
	backup := tfaCodes(t, r)
	secrets := append([]string{secret, url.QueryEscape(secret), "otpauth"}, backup...)

	var bodies [][]byte
	keep := func(r response) response { bodies = append(bodies, r.body); return r }
	expect(t, keep(c.post("/2fa/setup/", nil)), http.StatusConflict, "two_factor_already_enabled")
	expect(t, keep(c.get("/me/")), http.StatusOK, "")
	expect(t, keep(c.get("/2fa/backup-codes/")), http.StatusOK, "")
	expect(t, keep(c.post("/refresh/", nil)), http.StatusOK, "")
	expect(t, keep(e.client().post("/login/", map[string]string{"email": "secret@example.com", "password": goodPassword})), http.StatusOK, "")
	c2, token := e.tfaLogin("secret@example.com")
	secrets = append(secrets, token)
	expect(t, keep(c2.tfaVerify(token, "000000")), http.StatusBadRequest, "")
	expect(t, keep(c2.tfaVerify(token, backup[0])), http.StatusOK, "")
	expect(t, keep(c2.post("/2fa/backup-codes/", map[string]string{"password": goodPassword})), http.StatusOK, "")
	secrets = append(secrets, tfaCodes(t, response{body: bodies[len(bodies)-1]})...)
	expect(t, keep(c2.get("/openapi.json")), http.StatusOK, "")
	for _, b := range bodies[:len(bodies)-2] { // the last two are the new codes and the document
		for _, s := range secrets {
			if tfaLeaks(string(b), s) {
				t.Errorf("response %.120s reveals %q", b, s)
			}
		}
	}
	if tfaLeaks(string(bodies[len(bodies)-2]), secret) {
		t.Error("regenerate response reveals the secret")
	}

	u, err := e.store.UserByEmail(t.Context(), "secret@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.TOTPSecret == "" || u.TOTPPendingSecret != "" {
		t.Errorf("got stored secret %q and pending %q, want an encrypted secret and no pending one", u.TOTPSecret, u.TOTPPendingSecret)
	}
	row, _ := json.Marshal(u)
	for _, s := range secrets {
		if tfaLeaks(string(row), s) {
			t.Errorf("stored user %s holds %q in plaintext", row, s)
		}
	}
	evs, _ := json.Marshal(e.events.list())
	logMu.mu.Lock()
	logged := logs.String()
	logMu.mu.Unlock()
	for _, s := range secrets {
		if tfaLeaks(string(evs), s) {
			t.Errorf("events %s reveal %q", evs, s)
		}
		if tfaLeaks(logged, s) {
			t.Errorf("logs reveal %q:\n%s", s, logged)
		}
	}
	if !strings.Contains(logged, "two_factor_enabled") {
		t.Errorf("logs hold no two_factor_enabled event; the leak check above looked at nothing:\n%s", logged)
	}
}

// tfaLeaks reports whether haystack contains s in any case, with or without
// the dash of a backup code.
func tfaLeaks(haystack, s string) bool {
	h := strings.ToLower(haystack)
	s = strings.ToLower(s)
	return strings.Contains(h, s) || strings.Contains(h, strings.ReplaceAll(s, "-", ""))
}

// TestTwoFactorDisable tries disable with bad input, then disables with a
// TOTP or a backup code; afterwards login has no 2FA step.
func TestTwoFactorDisable(t *testing.T) {
	for _, by := range []string{"totp", "backup code"} {
		t.Run(by, func(t *testing.T) {
			e := newEnv(t)
			u := e.tfaEnabled("off@example.com")
			fresh := e.tfaFreshCode(u.secret)
			bad := []struct {
				name   string
				body   map[string]string
				status int
				code   string
			}{
				{"no password", map[string]string{"code": fresh}, 400, "validation_failed"},
				{"no code", map[string]string{"password": goodPassword}, 400, "validation_failed"},
				{"wrong password", map[string]string{"password": "wrong password here", "code": fresh}, 400, "invalid_password"},
				{"wrong code", map[string]string{"password": goodPassword, "code": e.tfaWrongCode(u.secret)}, 400, "invalid_code"},
				{"wrong backup code", map[string]string{"password": goodPassword, "code": "zzzzz-zzzzz"}, 400, "invalid_code"},
			}
			for _, b := range bad {
				expect(t, u.c.post("/2fa/disable/", b.body), b.status, b.code)
			}
			if got := u.c.tfaRemaining(); got != 10 {
				t.Fatalf("after refused disables: got %d backup codes, want 10", got)
			}
			code := fresh
			if by == "backup code" {
				code = u.backup[3]
			}
			expect(t, u.c.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": code}), http.StatusOK, "")
			if !e.events.has("two_factor_disabled") {
				t.Errorf("got events %v, want two_factor_disabled", e.events.kinds())
			}
			st, _ := e.store.UserByEmail(t.Context(), u.email)
			if st.TOTPEnabled || st.TOTPSecret != "" || st.TOTPPendingSecret != "" || len(st.BackupCodes) != 0 {
				t.Errorf("after disable: got enabled %v, secret %q, pending %q, %d codes; want all erased",
					st.TOTPEnabled, st.TOTPSecret, st.TOTPPendingSecret, len(st.BackupCodes))
			}
			c := e.client()
			r := c.post("/login/", map[string]string{"email": u.email, "password": goodPassword})
			expect(t, r, http.StatusOK, "")
			if m := r.json(t); m["requires_2fa"] != false || m["user"] == nil || c.accessCookie() == "" {
				t.Errorf("login after disable: got %s and access cookie %q, want requires_2fa false, the user and cookies", r.body, c.accessCookie())
			}
			expect(t, u.c.get("/2fa/backup-codes/"), http.StatusConflict, "two_factor_not_enabled")
			// 2FA can be set up again with a new secret.
			secret := u.c.tfaSetup()
			expect(t, u.c.post("/2fa/enable/", map[string]string{"code": e.tfaFreshCode(secret)}), http.StatusOK, "")
		})
	}
}

// tfaWrongCode returns a well-formed code that matches none of the steps
// Verify accepts at the current time.
func (e *env) tfaWrongCode(secret string) string {
	e.t.Helper()
	now := e.clock.Now()
	valid := []string{tfaCodeAt(e.t, secret, now.Add(-totp.Period)), tfaCodeAt(e.t, secret, now), tfaCodeAt(e.t, secret, now.Add(totp.Period))}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !slices.Contains(valid, c) {
			return c
		}
	}
	panic("unreachable: three codes cannot cover four")
}

// TestTwoFactorBackupCodesList checks the listing: remaining count and
// per-code used/used_at, never a code or hash.
func TestTwoFactorBackupCodesList(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("list@example.com")
	type item struct {
		ID     string     `json:"id"`
		Used   bool       `json:"used"`
		UsedAt *time.Time `json:"used_at"`
	}
	list := func() (int, []item, []byte) {
		r := u.c.get("/2fa/backup-codes/")
		expect(t, r, http.StatusOK, "")
		var body struct {
			Remaining int    `json:"remaining"`
			Codes     []item `json:"codes"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		return body.Remaining, body.Codes, r.body
	}
	n, items, raw := list()
	if n != 10 || len(items) != 10 {
		t.Fatalf("got remaining %d and %d codes, want 10 and 10", n, len(items))
	}
	if !bytes.Contains(raw, []byte(`"used_at":null`)) {
		t.Errorf("got %s, want used_at null for unused codes", raw)
	}
	st, _ := e.store.UserByEmail(t.Context(), u.email)
	ids := map[string]bool{}
	for _, it := range items {
		if it.ID == "" || ids[it.ID] || it.Used || it.UsedAt != nil {
			t.Errorf("got item %+v, want a distinct id, unused", it)
		}
		ids[it.ID] = true
	}
	for _, s := range append(slices.Clone(u.backup), st.BackupCodes[0].Hash, st.BackupCodes[5].Hash) {
		if tfaLeaks(string(raw), s) {
			t.Errorf("listing %s reveals %q", raw, s)
		}
	}

	c, token := e.tfaLogin(u.email)
	e.clock.Advance(42 * time.Second)
	usedAt := e.clock.Now()
	expect(t, c.tfaVerify(token, strings.ToUpper(u.backup[7])), http.StatusOK, "")
	if !e.events.has("backup_code_used") {
		t.Errorf("got events %v, want backup_code_used", e.events.kinds())
	}
	n, items, _ = list()
	var used []item
	for _, it := range items {
		if it.Used {
			used = append(used, it)
		}
	}
	if n != 9 || len(used) != 1 || used[0].UsedAt == nil || !used[0].UsedAt.Equal(usedAt) {
		t.Fatalf("after one use: got remaining %d, used %+v; want 9 and one used at %v", n, used, usedAt)
	}
	if used[0].ID != st.BackupCodes[7].ID {
		t.Errorf("got used id %s, want %s (the 8th code's)", used[0].ID, st.BackupCodes[7].ID)
	}
}

// TestTwoFactorRegenerate regenerates backup codes by password, by TOTP code
// or both; old codes die and new ones work once.
func TestTwoFactorRegenerate(t *testing.T) {
	tests := []struct {
		name   string
		body   func(fresh, wrong string) map[string]string
		status int
		code   string
	}{
		{"password", func(_, _ string) map[string]string { return map[string]string{"password": goodPassword} }, 200, ""},
		{"totp", func(f, _ string) map[string]string { return map[string]string{"code": f} }, 200, ""},
		{"both", func(f, w string) map[string]string { return map[string]string{"code": f, "password": goodPassword} }, 200, ""},
		{"neither", func(_, _ string) map[string]string { return map[string]string{} }, 400, "validation_failed"},
		{"blank code", func(_, _ string) map[string]string { return map[string]string{"code": "  "} }, 400, "validation_failed"},
		{"wrong password", func(_, _ string) map[string]string { return map[string]string{"password": "not my password"} }, 400, "invalid_password"},
		{"wrong code", func(_, w string) map[string]string { return map[string]string{"code": w} }, 400, "invalid_code"},
		{"right password, wrong code", func(f, w string) map[string]string {
			return map[string]string{"code": w, "password": goodPassword}
		}, 400, "invalid_code"},
		{"right code, wrong password", func(f, w string) map[string]string {
			return map[string]string{"code": f, "password": "not my password"}
		}, 400, "invalid_password"},
		{"backup code instead of totp", func(_, _ string) map[string]string { return map[string]string{"code": "abcde-fghjk"} }, 400, "invalid_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.tfaEnabled("regen@example.com")
			fresh := e.tfaFreshCode(u.secret)
			r := u.c.post("/2fa/backup-codes/", tt.body(fresh, e.tfaWrongCode(u.secret)))
			expect(t, r, tt.status, tt.code)
			old := u.backup[0]
			if tt.status != http.StatusOK {
				// Nothing changed: an old code still works.
				c, token := e.tfaLogin(u.email)
				expect(t, c.tfaVerify(token, old), http.StatusOK, "")
				return
			}
			newCodes := tfaCodes(t, r)
			if slices.ContainsFunc(newCodes, func(c string) bool { return slices.Contains(u.backup, c) }) {
				t.Fatal("regenerated codes repeat an old one")
			}
			if got := u.c.tfaRemaining(); got != 10 {
				t.Errorf("got %d codes left, want 10", got)
			}
			if !e.events.has("backup_codes_regenerated") {
				t.Errorf("got events %v, want backup_codes_regenerated", e.events.kinds())
			}
			c, token := e.tfaLogin(u.email)
			for _, o := range u.backup[:3] {
				expect(t, c.tfaVerify(token, o), http.StatusBadRequest, "invalid_code")
			}
			expect(t, c.tfaVerify(token, newCodes[4]), http.StatusOK, "")
			c, token = e.tfaLogin(u.email)
			expect(t, c.tfaVerify(token, newCodes[4]), http.StatusBadRequest, "invalid_code")
			expect(t, c.tfaVerify(token, newCodes[5]), http.StatusOK, "")
			if got := u.c.tfaRemaining(); got != 8 {
				t.Errorf("got %d codes left, want 8", got)
			}
		})
	}
}

// tfaMalformed are codes that are neither six ASCII digits nor a backup
// code.
var tfaMalformed = []struct{ name, code string }{
	{"empty", ""},
	{"blank", " \t "},
	{"letters", "abcdef"},
	{"5 digits", "12345"},
	{"7 digits", "1234567"},
	{"digits and a letter", "12345a"},
	{"arabic-indic digits", "١٢٣٤٥٦"},
	{"fullwidth digits", "１２３４５６"},
	{"superscript digits", "¹²³⁴⁵⁶"},
	{"signed", "+12345"},
	{"NUL inside", "123\x00456"},
	{"10 kB of digits", strings.Repeat("1", 10_000)},
	{"10 kB of a backup code", strings.Repeat("abcde-fghjk", 1_000)},
}

// TestTwoFactorMalformedCodesManage sends malformed codes to enable,
// disable and regenerate: 400 problem+json, nothing changes.
func TestTwoFactorMalformedCodesManage(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("malformed@example.com")
	e.signupVerified("pending@example.com", goodPassword)
	p := e.loggedIn("pending@example.com", goodPassword)
	p.tfaSetup()
	for _, m := range tfaMalformed {
		t.Run(m.name, func(t *testing.T) {
			for _, call := range []struct {
				c    *client
				path string
				body map[string]string
			}{
				{p, "/2fa/enable/", map[string]string{"code": m.code}},
				{u.c, "/2fa/disable/", map[string]string{"code": m.code, "password": goodPassword}},
				{u.c, "/2fa/backup-codes/", map[string]string{"code": m.code}},
			} {
				r := call.c.post(call.path, call.body)
				if r.StatusCode != http.StatusBadRequest || (r.code() != "invalid_code" && r.code() != "validation_failed") {
					t.Errorf("%s: got %d %s, want 400 invalid_code or validation_failed", call.path, r.StatusCode, r.body)
				}
				expect(t, r, http.StatusBadRequest, "")
			}
		})
	}
	if st, _ := e.store.UserByEmail(t.Context(), "pending@example.com"); st.TOTPEnabled {
		t.Error("a malformed code enabled 2FA")
	}
	if got := u.c.tfaRemaining(); got != 10 {
		t.Errorf("got %d codes left, want 10", got)
	}
}

// tfaSyncWriter serialises writes to w.
type tfaSyncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *tfaSyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

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
	var rec *authtest.Spy
	e := newEnv(t, func(c *authsys.Config) { c.Sessions.KeyPrefix = "custom:" }, spyOn(&rec))
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
	keys := tfaPendingWrites(rec)
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

// tfaPendingWrites returns the writes spy recorded to the PendingStore
// (PutPending, AddPendingIfAbsent, IncrPending).
func tfaPendingWrites(spy *authtest.Spy) []tfaWrite {
	var out []tfaWrite
	for _, c := range spy.Calls() {
		switch c.Method {
		case "PutPending", "AddPendingIfAbsent", "IncrPending":
			out = append(out, tfaWrite{c.Key, c.Value, c.TTL})
		}
	}
	return out
}

type tfaWrite struct {
	key   string
	value []byte
	ttl   time.Duration
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
	var throttled []authsys.Event
	for _, ev := range e.events.list() {
		if ev.Kind == "throttled" {
			throttled = append(throttled, ev)
		}
	}
	if len(throttled) != 1 || throttled[0].Reason != limitTwoFactor {
		t.Errorf("got throttled events %+v, want one with reason %s", throttled, limitTwoFactor)
	}
	e.clock.Advance(time.Minute)
	expect(t, c.tfaVerify(token2, u.backup[0]), http.StatusOK, "")
}

// tfaBackend configures the stores of a race test; it skips the test when
// its services are not configured.
type tfaBackend struct {
	name  string
	setup func(t *testing.T) func(*authsys.Config)
}

// tfaBackends are the stores the race tests run on: memory always; Redis
// for pending state and PostgreSQL for users, and PostgreSQL for both, when
// AUTHSYS_TEST_REDIS_URL and AUTHSYS_TEST_POSTGRES_URL are set.
var tfaBackends = []tfaBackend{
	{"memory", func(*testing.T) func(*authsys.Config) { return func(*authsys.Config) {} }},
	{"redis+postgres", func(t *testing.T) func(*authsys.Config) {
		users := tfaPostgres(t)
		pending := tfaRedis(t)
		return func(c *authsys.Config) { c.Users, c.Pending = users(c.Now), pending }
	}},
	{"postgres", func(t *testing.T) func(*authsys.Config) {
		users := tfaPostgres(t)
		return func(c *authsys.Config) {
			s := users(c.Now)
			c.Users, c.Pending = s, s
		}
	}},
}

// tfaRedis returns a Redis PendingStore under a fresh key prefix whose keys
// are deleted when the test ends, or skips the test.
func tfaRedis(t *testing.T) *redis.Store {
	t.Helper()
	u := os.Getenv("AUTHSYS_TEST_REDIS_URL")
	if u == "" {
		testenv.Skip(t, "AUTHSYS_TEST_REDIS_URL is not set; set it (e.g. redis://127.0.0.1:6379/0) to run the 2FA races on Redis")
	}
	o, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	o.ContextTimeoutEnabled = true
	client := goredis.NewClient(o)
	prefix := "authsys_test_2fa:" + tokens.NewID() + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("deleting test keys %s*: %v", prefix, err)
			}
		}
	})
	return redis.New(client, redis.WithPrefix(prefix))
}

// tfaPostgres returns a constructor of a PostgreSQL store in a fresh,
// migrated schema that is dropped when the test ends, or skips the test.
func tfaPostgres(t *testing.T) func(now func() time.Time) *postgres.Store {
	t.Helper()
	u := os.Getenv("AUTHSYS_TEST_POSTGRES_URL")
	if u == "" {
		testenv.Skip(t, "AUTHSYS_TEST_POSTGRES_URL is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the 2FA races on PostgreSQL")
	}
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	schema := "authsys_test_2fa_" + tokens.NewID()[:12]
	schema = "s" + pgxSafe(schema)
	t.Cleanup(func() {
		defer pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return func(now func() time.Time) *postgres.Store {
		s := postgres.New(pool, postgres.WithSchema(schema), postgres.WithClock(now))
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
}

// pgxSafe maps the base64url characters a schema name may not hold.
func pgxSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// tfaRace runs n calls of f at once, released together, and returns their
// outcomes in order.
func tfaRace(n int, f func(i int) tfaOutcome) []tfaOutcome {
	out := make([]tfaOutcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// tfaHTTPClient returns an HTTP client with the cookies of c, or none.
func tfaHTTPClient(c *client) *http.Client {
	if c != nil {
		return c.hc
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// TestTwoFactorRaceSameCode posts one valid code on one pending session
// from 20 goroutines: exactly one logs in, and the code is spent. In the
// "slow winner" variant the winner is held after spending the code and
// before taking the session until every other request has answered, so
// that the losers' failures get every chance to destroy the session under
// it.
func TestTwoFactorRaceSameCode(t *testing.T) {
	for _, b := range tfaBackends {
		for _, slow := range []bool{false, true} {
			name := b.name
			if slow {
				name += "/slow winner"
			}
			t.Run(name, func(t *testing.T) {
				hold := &tfaHold{}
				e := newEnv(t, b.setup(t), hold.on)
				u := e.tfaEnabled("race@example.com")
				_, token := e.tfaLogin(u.email)
				code := e.tfaFreshCode(u.secret)
				if slow {
					hold.arm(func(op, key string, _ []byte) bool { return op == "take" && tfaIsSessionKey(key) })
				}
				results := make(chan tfaOutcome)
				for range 20 {
					go func() {
						results <- e.tfaPost(tfaHTTPClient(nil), "/2fa/verify-login/", map[string]string{"session_token": token, "code": code})
					}()
				}
				var outs []tfaOutcome
				for held := 0; len(outs)+held < 20; {
					select {
					case o := <-results:
						outs = append(outs, o)
					case <-hold.blocked:
						held++
					}
				}
				hold.free()
				for len(outs) < 20 {
					outs = append(outs, <-results)
				}
				wins := 0
				for _, o := range outs {
					switch {
					case o.err != nil:
						t.Errorf("request failed: %v", o.err)
					case o.status == http.StatusOK:
						wins++
						if o.cookies < 2 {
							t.Errorf("the winner got %d cookies, want the access and refresh cookies", o.cookies)
						}
					case o.status == http.StatusConflict && o.code == "conflict",
						o.status == http.StatusUnauthorized && o.code == "session_expired":
						if o.cookies != 0 {
							t.Errorf("a loser got %d cookies", o.cookies)
						}
					default:
						t.Errorf("got %d %s, want 200, 409 conflict or 401 session_expired", o.status, o.body)
					}
				}
				if wins != 1 {
					t.Fatalf("got %d logins, want exactly 1; outcomes %v", wins, tfaTally(outs))
				}
				c, token := e.tfaLogin(u.email)
				expect(t, c.tfaVerify(token, code), http.StatusBadRequest, "invalid_code")
			})
		}
	}
}

// tfaHold is an authtest.Spy hook that, once armed, holds every TakePending
// ("take") and AddPendingIfAbsent ("add") its match accepts until free is
// called, and reports each hold on blocked.
type tfaHold struct {
	mu      sync.Mutex
	match   func(op, key string, value []byte) bool
	hold    chan struct{}
	blocked chan struct{}
}

func (p *tfaHold) arm(match func(op, key string, value []byte) bool) {
	p.mu.Lock()
	p.match, p.hold, p.blocked = match, make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
}

// disarm stops holding new calls; those held stay held until free.
func (p *tfaHold) disarm() {
	p.mu.Lock()
	p.match = nil
	p.mu.Unlock()
}

func (p *tfaHold) free() {
	p.mu.Lock()
	if p.hold != nil {
		close(p.hold)
		p.hold, p.match = nil, nil
	}
	p.mu.Unlock()
}

func (p *tfaHold) wait(ctx context.Context, op, key string, value []byte) error {
	p.mu.Lock()
	match, hold, blocked := p.match, p.hold, p.blocked
	p.mu.Unlock()
	if match == nil || !match(op, key, value) {
		return nil
	}
	select {
	case blocked <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// on is a Config mutation that wraps the stores in an authtest.Spy
// hooked to p.
func (p *tfaHold) on(c *authsys.Config) {
	spy := authtest.NewSpy(c.Users, c.Pending)
	spy.SetHook(func(ctx context.Context, call *authtest.Call) error {
		switch call.Method {
		case "TakePending":
			return p.wait(ctx, "take", call.Key, nil)
		case "AddPendingIfAbsent":
			return p.wait(ctx, "add", call.Key, call.Value)
		}
		return nil
	})
	c.Users, c.Pending = spy, spy
}

// tfaIsSessionKey reports whether key is a pending session's: the default
// prefix followed by the token hash alone.
func tfaIsSessionKey(key string) bool {
	rest, ok := strings.CutPrefix(key, "auth:pending:")
	return ok && !strings.Contains(rest, ":")
}

// TestTwoFactorRaceBackupCode races one backup code across ten pending
// sessions of its user (the five oldest already evicted by the five
// newest): exactly one logs in and one code is spent.
func TestTwoFactorRaceBackupCode(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			u := e.tfaEnabled("backup-race@example.com")
			var tokens []string
			for range 10 {
				_, token := e.tfaLogin(u.email)
				tokens = append(tokens, token)
			}
			outs := tfaRace(len(tokens), func(i int) tfaOutcome {
				return e.tfaPost(tfaHTTPClient(nil), "/2fa/verify-login/", map[string]string{"session_token": tokens[i], "code": u.backup[2]})
			})
			tally := tfaTally(outs)
			if tally["OK"] != 1 || tally["Unauthorized session_expired"] != 5 || tally["Bad Request invalid_code"] != 4 {
				t.Fatalf("got %v, want 1 OK, 5 session_expired (evicted), 4 invalid_code", tally)
			}
			for i, o := range outs[:5] {
				if o.status != http.StatusUnauthorized {
					t.Errorf("evicted session %d: got %d, want 401", i, o.status)
				}
			}
			if got := u.c.tfaRemaining(); got != 9 {
				t.Errorf("got %d codes left, want 9", got)
			}
		})
	}
}

// TestTwoFactorRaceLogins opens twelve pending sessions of one user at
// once: exactly five stay alive, whatever order the evictions ran in.
func TestTwoFactorRaceLogins(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			u := e.tfaEnabled("logins@example.com")
			outs := tfaRace(12, func(int) tfaOutcome {
				return e.tfaPost(tfaHTTPClient(nil), "/login/", map[string]string{"email": u.email, "password": goodPassword})
			})
			live := 0
			for _, o := range outs {
				if o.status != http.StatusOK {
					t.Fatalf("login: got %d %s", o.status, o.body)
				}
				var body struct {
					SessionToken string `json:"session_token"`
				}
				tfaUnmarshal(t, o.body, &body)
				// A wrong code tells a live session (invalid_code) from a
				// dead one (session_expired) without spending anything.
				r := e.client().tfaVerify(body.SessionToken, e.tfaWrongCode(u.secret))
				switch r.code() {
				case "invalid_code":
					live++
				case "session_expired":
				default:
					t.Fatalf("got %d %s", r.StatusCode, r.body)
				}
			}
			if live != 5 {
				t.Errorf("got %d live pending sessions, want 5", live)
			}
		})
	}
}

// TestTwoFactorSlowLoginEvicted holds the first of six logins after it
// stored its session and before it indexed it, while the other five run:
// the sixth evicts the first before it is indexed, and the first must die
// at birth rather than live as a sixth session.
func TestTwoFactorSlowLoginEvicted(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			hold := &tfaHold{}
			e := newEnv(t, b.setup(t), hold.on)
			u := e.tfaEnabled("slow-login@example.com")
			hold.arm(func(op, key string, value []byte) bool {
				return op == "add" && strings.Contains(key, ":idx:") && tfaIsSessionKey(string(value))
			})
			first := make(chan tfaOutcome, 1)
			go func() {
				first <- e.tfaPost(tfaHTTPClient(nil), "/login/", map[string]string{"email": u.email, "password": goodPassword})
			}()
			<-hold.blocked
			hold.disarm()
			var tokens []string
			for range 5 {
				_, token := e.tfaLogin(u.email)
				tokens = append(tokens, token)
			}
			hold.free()
			o := <-first
			var body struct {
				SessionToken string `json:"session_token"`
			}
			tfaUnmarshal(t, o.body, &body)
			if o.status != http.StatusOK || body.SessionToken == "" {
				t.Fatalf("first login: got %d %s", o.status, o.body)
			}
			expect(t, e.client().tfaVerify(body.SessionToken, u.backup[0]), http.StatusUnauthorized, "session_expired")
			for i, token := range tokens {
				expect(t, e.client().tfaVerify(token, u.backup[i+1]), http.StatusOK, "")
			}
		})
	}
}

// TestTwoFactorRaceRegenerate regenerates backup codes from ten goroutines
// with the password, all of which have read the same codes before any
// writes (a barrier holds every UpdateUser until all ten arrive): exactly
// one succeeds, the others get 409, and the winner's codes are the ones
// that work.
func TestTwoFactorRaceRegenerate(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			var spy *authtest.Spy
			setup := b.setup(t)
			e := newEnv(t, setup, spyOn(&spy))
			u := e.tfaEnabled("regen-race@example.com")
			// The next ten UpdateUser calls all wait until the tenth
			// arrives, so that every caller has read the user before any
			// of them writes.
			bar := newBarrier(10)
			spy.SetHook(func(ctx context.Context, c *authtest.Call) error {
				if c.Method == "UpdateUser" {
					return bar.wait(ctx)
				}
				return nil
			})
			outs := tfaRace(10, func(int) tfaOutcome {
				return e.tfaPost(u.c.hc, "/2fa/backup-codes/", map[string]string{"password": goodPassword})
			})
			var winner []string
			for _, o := range outs {
				switch {
				case o.err != nil:
					t.Errorf("request failed: %v", o.err)
				case o.status == http.StatusOK:
					if winner != nil {
						t.Fatalf("two regenerations of the same codes succeeded: %v", tfaTally(outs))
					}
					winner = tfaCodes(t, response{body: o.body})
				case o.status != http.StatusConflict || o.code != "conflict":
					t.Errorf("got %d %s, want 200 or 409 conflict", o.status, o.body)
				}
			}
			if winner == nil {
				t.Fatalf("no regeneration succeeded: %v", tfaTally(outs))
			}
			for i := range 2 {
				c, token := e.tfaLogin(u.email)
				expect(t, c.tfaVerify(token, winner[i]), http.StatusOK, "")
			}
		})
	}
}

// TestTwoFactorRaceEnable enables 2FA from ten goroutines with one code:
// exactly one succeeds, and its backup codes are the ones stored.
func TestTwoFactorRaceEnable(t *testing.T) {
	for _, b := range tfaBackends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.setup(t))
			e.signupVerified("enable-race@example.com", goodPassword)
			c := e.loggedIn("enable-race@example.com", goodPassword)
			code := tfaCodeAt(t, c.tfaSetup(), e.clock.Now())
			outs := tfaRace(10, func(int) tfaOutcome {
				return e.tfaPost(c.hc, "/2fa/enable/", map[string]string{"code": code})
			})
			var winner []string
			for _, o := range outs {
				switch {
				case o.status == http.StatusOK:
					if winner != nil {
						t.Fatalf("two enables succeeded: %v", tfaTally(outs))
					}
					winner = tfaCodes(t, response{body: o.body})
				case o.status == http.StatusBadRequest && o.code == "invalid_code",
					o.status == http.StatusConflict && o.code == "two_factor_already_enabled",
					// The winner's enable ended every session, the one
					// the losers came with included.
					o.status == http.StatusUnauthorized && o.code == "invalid_token":
				default:
					t.Errorf("got %d %s (%v), want 200, 400 invalid_code, 409 two_factor_already_enabled or 401 invalid_token", o.status, o.body, o.err)
				}
			}
			if winner == nil {
				t.Fatalf("no enable succeeded: %v", tfaTally(outs))
			}
			lc, token := e.tfaLogin("enable-race@example.com")
			expect(t, lc.tfaVerify(token, winner[9]), http.StatusOK, "")
		})
	}
}

// TestTrustedDevice: "remember this browser" at the second factor lets
// that browser's later logins skip it (the password is still needed)
// until it expires; the device is listed and revoked next to the
// sessions, dies with every session (password change, logout-all, 2FA
// disabled), works only for its own account, and a login through it is
// not fresh.
func TestTrustedDevice(t *testing.T) {
	e := newEnv(t)
	u := e.tfaEnabled("tfa@example.com")
	e.signupVerified("other@example.com", goodPassword)
	remember := func() *client {
		t.Helper()
		c, token := e.tfaLogin("tfa@example.com")
		r := c.post("/2fa/verify-login/", map[string]any{"session_token": token, "code": e.tfaFreshCode(u.secret), "remember_device": true})
		expect(t, r, http.StatusOK, "")
		ck := coreSetCookie(r, "trusted_device")
		if ck == nil || !ck.HttpOnly || ck.MaxAge != 30*24*3600 {
			t.Fatalf("got trusted_device cookie %v, want an HttpOnly cookie of 30 days", ck)
		}
		return c
	}
	login := func(c *client) response {
		t.Helper()
		return c.post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword})
	}
	c := remember()
	e.clock.Advance(time.Minute)
	r := login(c)
	expect(t, r, http.StatusOK, "")
	if r.json(t)["requires_2fa"] != false || c.accessCookie() == "" {
		t.Fatalf("a trusted browser's login: got %s, want a session without the second factor", r.body)
	}
	// Not fresh, even within the window of the login that trusted the
	// device: only the password was shown.
	expect(t, c.get("/2fa/backup-codes/"), http.StatusForbidden, "reauthentication_required")
	expect(t, c.post("/sessions/revoke-others/", nil), http.StatusForbidden, "reauthentication_required")
	// Another browser still needs the code; a wrong password is still refused.
	if r := e.client().post("/login/", map[string]string{"email": "tfa@example.com", "password": goodPassword}); r.json(t)["requires_2fa"] != true {
		t.Fatalf("an untrusted browser: got %s, want requires_2fa", r.body)
	}
	expect(t, c.post("/login/", map[string]string{"email": "tfa@example.com", "password": "not the password"}), http.StatusUnauthorized, "invalid_credentials")

	// Listed next to the sessions, and revoked like one.
	list := c.get("/sessions/")
	var body struct {
		TrustedDevices []map[string]any `json:"trusted_devices"`
	}
	if err := json.Unmarshal(list.body, &body); err != nil || len(body.TrustedDevices) != 1 {
		t.Fatalf("got %s, want one trusted device", list.body)
	}
	expect(t, c.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": e.tfaFreshCode(u.secret)}), http.StatusOK, "")
	expect(t, c.do(http.MethodDelete, "/api/auth/sessions/"+body.TrustedDevices[0]["id"].(string)+"/", nil), http.StatusOK, "")
	if r := login(c); r.json(t)["requires_2fa"] != true {
		t.Fatalf("a revoked device: got %s, want requires_2fa", r.body)
	}

	// Every change that ends all sessions ends the devices.
	for _, end := range []struct {
		name string
		do   func(c *client)
	}{
		{"logout-all", func(c *client) { expect(t, c.post("/logout-all/", nil), http.StatusOK, "") }},
		{"password change", func(c *client) {
			expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": goodPassword + "!"}), http.StatusOK, "")
			expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword + "!", "new_password": goodPassword}), http.StatusOK, "")
		}},
	} {
		c := remember()
		expect(t, login(c), http.StatusOK, "")
		end.do(c)
		if r := login(c); r.json(t)["requires_2fa"] != true {
			t.Fatalf("after %s: got %s, want requires_2fa", end.name, r.body)
		}
	}

	// The cookie is bound to its account.
	c = remember()
	other := e.client()
	other.setCookie("trusted_device", c.cookie("trusted_device", "/api/auth/login/"), "/api/auth/")
	expect(t, other.post("/login/", map[string]string{"email": "other@example.com", "password": goodPassword}), http.StatusOK, "")
	forged := e.client()
	forged.setCookie("trusted_device", "td_madeup.k1.abc.def", "/api/auth/")
	if r := login(forged); r.json(t)["requires_2fa"] != true {
		t.Fatalf("a forged device cookie: got %s, want requires_2fa", r.body)
	}
	// It expires.
	e.clock.Advance(30*24*time.Hour + time.Second)
	if r := login(c); r.json(t)["requires_2fa"] != true {
		t.Fatalf("an expired device: got %s, want requires_2fa", r.body)
	}
}

package authsys_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/totp"
)

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
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	for i := len(e.events.ev) - 1; i >= 0; i-- {
		if e.events.ev[i].Kind == kind {
			ev := e.events.ev[i]
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
	e.events.mu.Lock()
	evs, _ := json.Marshal(e.events.ev)
	e.events.mu.Unlock()
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

package authsys_test

// Hostile request bodies: each gets its problem+json, no 5xx, and nothing
// is stored or mailed.

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// coreBadBodies are bodies every JSON endpoint must refuse, with the
// status and code each gets. body is sent with Content-Type ct.
var coreBadBodies = []struct {
	name   string
	ct     string
	body   []byte
	status int
	code   string
}{
	{"malformed JSON", "application/json", []byte(`{"email": "a@example.com", "password": `), 400, "invalid_json"},
	{"empty body", "application/json", nil, 400, "invalid_json"},
	{"array", "application/json", []byte(`[{"email": "a@example.com"}]`), 400, "invalid_json"},
	{"two values", "application/json", []byte(`{"email": "a@example.com"} {}`), 400, "invalid_json"},
	{"wrong type", "application/json", []byte(`{"email": 42, "password": true}`), 400, "invalid_json"},
	{"unknown field", "application/json", []byte(`{"email": "a@example.com", "password": "long enough pass", "is_staff": true}`), 400, "invalid_json"},
	{"invalid UTF-8", "application/json", []byte("{\"email\": \"a\xff\xfe@example.com\", \"password\": \"long enough \xc3\x28 pass\"}"), 400, "invalid_json"},
	{"2 MiB body", "application/json", append(append([]byte(`{"email": "a@example.com", "password": "`), bytes.Repeat([]byte("a"), 2<<20)...), `"}`...), 413, "request_too_large"},
	{"100 kB password", "application/json", []byte(`{"email": "a@example.com", "current_password": "x", "password": "` + strings.Repeat("p", 100_000) + `"}`), 413, "request_too_large"},
	{"form encoding", "application/x-www-form-urlencoded", []byte("email=a%40example.com&password=long+enough+pass"), 415, "unsupported_media_type"},
	{"no content type", "", []byte(`{"email": "a@example.com", "password": "long enough pass"}`), 415, "unsupported_media_type"},
	{"text/plain", "text/plain", []byte(`{"email": "a@example.com", "password": "long enough pass"}`), 415, "unsupported_media_type"},
}

func TestCoreBadBodies(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	cookie := coreCookieHeader("access_token", c.accessCookie(), "refresh_token", c.refreshCookie())
	user := coreUser(e, "user@example.com")
	mails := coreFlush(e)

	for _, path := range []string{
		"/signup/", "/verify-account/", "/verify-account/resend/", "/login/",
		"/password-reset/", "/password-reset-confirm/", "/change-password/",
		"/change-email/", "/change-email-confirm/",
	} {
		for _, b := range coreBadBodies {
			t.Run(path+" "+b.name, func(t *testing.T) {
				writes := spy.writes.Load()
				hdr := []string{"Cookie", cookie}
				if b.ct != "" {
					hdr = append(hdr, "Content-Type", b.ct)
				}
				r := coreRawBody(e, http.MethodPost, "/api/auth"+path, b.body, hdr...)
				expect(t, r, b.status, b.code)
				coreSecurityHeaders(t, path, r)
				if got := spy.writes.Load(); got != writes {
					t.Errorf("got %d store writes, want none: %v", got-writes, spy.writeLog()[writes:])
				}
				if len(r.Cookies()) != 0 {
					t.Errorf("got cookies %v, want none", r.Cookies())
				}
			})
		}
	}
	if got := coreFlush(e); got != mails {
		t.Errorf("got %d mails sent by refused requests, want none", got-mails)
	}
	if got := coreUser(e, "user@example.com"); got.PasswordHash != user.PasswordHash || got.TokenVersion != user.TokenVersion || got.Email != user.Email {
		t.Error("a refused request changed the user")
	}
	if n := coreUserCount(e); n != 1 {
		t.Errorf("got %d users, want 1", n)
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
}

// coreRawBody is coreRaw with a raw body and no default Content-Type.
func coreRawBody(e *env, method, path string, body []byte, hdr ...string) response {
	e.t.Helper()
	return coreRawSend(e, method, path, body, true, hdr...)
}

// TestCoreHostileValues sends well-formed JSON whose values would break a
// strict backend (a NUL byte, control characters, huge strings) to every
// public endpoint, on a store that fails like PostgreSQL on them: never a
// 5xx, never a write.
func TestCoreHostileValues(t *testing.T) {
	e, spy := coreSpyEnv(t, true)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	uid := coreUser(e, "user@example.com").ID
	mails := coreFlush(e)
	nul := "us\x00er@example.com"
	long := strings.Repeat("x", 60_000)
	for i, tc := range []struct {
		path string
		body map[string]string
	}{
		{"/login/", map[string]string{"email": nul, "password": goodPassword}},
		{"/login/", map[string]string{"email": "user@example.com\x00", "password": goodPassword}},
		{"/login/", map[string]string{"email": long + "@example.com", "password": goodPassword}},
		{"/login/", map[string]string{"email": "user@example.com", "password": "pass\x00word with nul"}},
		{"/login/", map[string]string{"email": "user@example.com", "password": long}},
		{"/signup/", map[string]string{"email": nul, "password": goodPassword}},
		{"/signup/", map[string]string{"email": "a\u202e@example.com", "password": goodPassword}},
		{"/signup/", map[string]string{"email": "new@example.com\r\nBcc: x@example.com", "password": goodPassword}},
		{"/verify-account/resend/", map[string]string{"email": nul}},
		{"/password-reset/", map[string]string{"email": nul}},
		{"/password-reset/", map[string]string{"email": "user@example.com\r\nBcc: evil@example.com"}},
		{"/verify-account/", map[string]string{"uid": "\x00", "token": "k1.x.y"}},
		{"/verify-account/", map[string]string{"uid": uid + "\x00", "token": "k1.x.y"}},
		{"/verify-account/", map[string]string{"uid": uid, "token": "k1.x.y\x00"}},
		{"/verify-account/", map[string]string{"uid": uid, "token": long}},
		{"/password-reset-confirm/", map[string]string{"uid": "\x00", "token": "k1.x.y", "new_password": "a good long passphrase"}},
		{"/password-reset-confirm/", map[string]string{"uid": long, "token": "k1.x.y", "new_password": "a good long passphrase"}},
		{"/change-email-confirm/", map[string]string{"token": "\x00"}},
		{"/change-email-confirm/", map[string]string{"token": long}},
		{"/change-email/", map[string]string{"new_email": nul, "password": goodPassword}},
		{"/change-password/", map[string]string{"current_password": "\x00", "new_password": "a good long passphrase"}},
	} {
		t.Run(fmt.Sprintf("%d %s", i, tc.path), func(t *testing.T) {
			writes := spy.writes.Load()
			r := c.post(tc.path, tc.body)
			if r.StatusCode >= 500 {
				t.Fatalf("got %d %s, want a 4xx", r.StatusCode, r.body)
			}
			if r.StatusCode < 400 && tc.path != "/verify-account/resend/" && tc.path != "/password-reset/" {
				t.Fatalf("got %d %s, want a refusal", r.StatusCode, r.body)
			}
			if got := spy.writes.Load(); got != writes {
				t.Errorf("got %d store writes, want none: %v", got-writes, spy.writeLog()[writes:])
			}
		})
	}
	if got := coreFlush(e); got != mails {
		t.Errorf("got %d mails, want none", got-mails)
	}
	for _, q := range []string{"/verify-account/?uid=%00&token=x", "/change-email-confirm/?token=%00", "/verify-account/?uid=" + strings.Repeat("u", 5000) + "&token=x"} {
		if r := c.get(q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %.60s: got %d %s, want 400", q, r.StatusCode, r.body)
		}
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
}

// TestCoreRefusalsWriteNothing checks that requests refused for their
// content (wrong password, bad link, weak password, taken address) store
// nothing and send no mail.
func TestCoreRefusalsWriteNothing(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	e.signupVerified("taken@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "user@example.com"}), http.StatusOK, "")
	reset := linkParams(t, coreLastMail(e, "user@example.com", "password_reset"))
	uid := reset.Get("uid")
	mails := coreFlush(e)
	for _, tc := range []struct {
		name, path string
		body       map[string]string
		status     int
		code       string
	}{
		{"login wrong password", "/login/", map[string]string{"email": "user@example.com", "password": "not the password"}, 401, "invalid_credentials"},
		{"login unknown email", "/login/", map[string]string{"email": "ghost@example.com", "password": goodPassword}, 401, "invalid_credentials"},
		{"signup weak password", "/signup/", map[string]string{"email": "new@example.com", "password": "iloveyou"}, 400, "validation_failed"},
		{"verify bad token", "/verify-account/", map[string]string{"uid": uid, "token": "k1.abc.def"}, 400, "invalid_token"},
		{"reset confirm bad token", "/password-reset-confirm/", map[string]string{"uid": uid, "token": "k1.abc.def", "new_password": "a good long passphrase"}, 400, "invalid_token"},
		{"reset confirm weak password", "/password-reset-confirm/", map[string]string{"uid": uid, "token": reset.Get("token"), "new_password": "12345678"}, 400, "validation_failed"},
		{"change password wrong current", "/change-password/", map[string]string{"current_password": "nope nope nope", "new_password": "a good long passphrase"}, 400, "invalid_password"},
		{"change email wrong password", "/change-email/", map[string]string{"new_email": "x@example.com", "password": "nope nope nope"}, 400, "invalid_password"},
		{"change email taken", "/change-email/", map[string]string{"new_email": "taken@example.com", "password": goodPassword}, 200, ""},
		{"change email confirm bad token", "/change-email-confirm/", map[string]string{"token": "nope"}, 400, "invalid_token"},
		{"password reset unknown", "/password-reset/", map[string]string{"email": "ghost@example.com"}, 200, ""},
		{"resend verified", "/verify-account/resend/", map[string]string{"email": "user@example.com"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writes := spy.writes.Load()
			expect(t, c.post(tc.path, tc.body), tc.status, tc.code)
			if got := spy.writes.Load(); got != writes {
				t.Errorf("got %d store writes, want none: %v", got-writes, spy.writeLog()[writes:])
			}
		})
	}
	if got := coreFlush(e); got != mails {
		t.Errorf("got %d mails, want none", got-mails)
	}
	// The reset link survived the refusals.
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": uid, "token": reset.Get("token"), "new_password": "a good long passphrase"}), http.StatusOK, "")
}

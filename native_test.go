package authsys_test

// Native clients (Sessions.NativeClients): token mode (X-Auth-Mode: token),
// where tokens travel in bodies and the Authorization header and no cookie
// is read or set, and the precedence of a Bearer header over the access
// cookie.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
)

// nativeEnv is an env with native clients allowed.
func nativeEnv(t *testing.T, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) { c.Sessions.NativeClients = true }}, mutate...)...)
}

// nativeTokens is the tokens member of a token-mode answer.
type nativeTokens struct {
	AccessToken            string `json:"access_token"`
	TokenType              string `json:"token_type"`
	ExpiresIn              int64  `json:"expires_in"`
	RefreshToken           string `json:"refresh_token"`
	RefreshExpiresIn       int64  `json:"refresh_expires_in"`
	TrustedDeviceToken     string `json:"trusted_device_token"`
	TrustedDeviceExpiresIn int64  `json:"trusted_device_expires_in"`
}

// nativeCall sends one token-mode request, without a cookie jar: body as
// JSON (nil for none), access as a Bearer header ("" for none), and the
// extra header pairs of hdr.
func nativeCall(e *env, method, path string, body any, access string, hdr ...string) response {
	e.t.Helper()
	h := append([]string{"X-Auth-Mode", "token"}, hdr...)
	if access != "" {
		h = append(h, "Authorization", "Bearer "+access)
	}
	return coreRaw(e, method, "/api/auth"+path, body, h...)
}

// nativeTokensOf returns the tokens of a token-mode answer r and checks it
// set no cookie.
func nativeTokensOf(t *testing.T, r response, withRefresh bool) nativeTokens {
	t.Helper()
	if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Fatalf("a token-mode answer set cookies %q", sc)
	}
	var body struct {
		Tokens *nativeTokens `json:"tokens"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Tokens == nil {
		t.Fatalf("got %d %s, want tokens in the body", r.StatusCode, r.body)
	}
	tk := *body.Tokens
	if tk.AccessToken == "" || tk.TokenType != "Bearer" || tk.ExpiresIn != int64((15*time.Minute)/time.Second) {
		t.Fatalf("got tokens %+v, want an access token of type Bearer expiring in 900 s", tk)
	}
	if withRefresh && (tk.RefreshToken == "" || tk.RefreshExpiresIn <= 0) {
		t.Fatalf("got tokens %+v, want a refresh token with its expiry", tk)
	}
	if !withRefresh && tk.RefreshToken != "" {
		t.Fatalf("got tokens %+v, want no refresh token", tk)
	}
	return tk
}

// nativeLogin logs email in in token mode and returns its tokens.
func nativeLogin(e *env, email string) nativeTokens {
	e.t.Helper()
	r := nativeCall(e, http.MethodPost, "/login/", map[string]string{"email": email, "password": goodPassword}, "")
	expect(e.t, r, http.StatusOK, "")
	return nativeTokensOf(e.t, r, true)
}

// TestNativeTokenMode runs the cookie-free life of a session: login,
// authenticated calls with Bearer (the API and Middleware), refresh from
// the body, logout by the Bearer token.
func TestNativeTokenMode(t *testing.T) {
	e := nativeEnv(t)
	e.signupVerified("app@example.com", goodPassword)
	tk := nativeLogin(e, "app@example.com")
	if tk.RefreshExpiresIn != int64((7*24*time.Hour)/time.Second) {
		t.Errorf("got refresh_expires_in %d, want 7 days", tk.RefreshExpiresIn)
	}
	r := nativeCall(e, http.MethodGet, "/me/", nil, tk.AccessToken)
	expect(t, r, http.StatusOK, "")
	if u, _ := r.json(t)["user"].(map[string]any); u["email"] != "app@example.com" {
		t.Fatalf("got %s, want the user", r.body)
	}
	expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Bearer "+tk.AccessToken), http.StatusOK, "")

	e.clock.Advance(time.Minute)
	r = nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": tk.RefreshToken}, "")
	expect(t, r, http.StatusOK, "")
	next := nativeTokensOf(t, r, true)
	if next.AccessToken == tk.AccessToken || next.RefreshToken == tk.RefreshToken {
		t.Fatal("refresh gave the same tokens back, want new ones")
	}
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, next.AccessToken), http.StatusOK, "")

	// Refresh without a token, or with garbage, or an access token.
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", nil, ""), http.StatusUnauthorized, "not_authenticated")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{}, ""), http.StatusUnauthorized, "not_authenticated")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": "garbage"}, ""), http.StatusUnauthorized, "invalid_token")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": next.AccessToken}, ""), http.StatusUnauthorized, "invalid_token")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh": "x"}, ""), http.StatusBadRequest, "invalid_json")

	// Logout by the Bearer access token ends the session: both tokens die.
	r = nativeCall(e, http.MethodPost, "/logout/", nil, next.AccessToken)
	expect(t, r, http.StatusOK, "")
	if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("a token-mode logout set cookies %q, want none", sc)
	}
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, next.AccessToken), http.StatusUnauthorized, "invalid_token")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": next.RefreshToken}, ""), http.StatusUnauthorized, "invalid_token")
	if !e.events.has(authsys.EventLogout) {
		t.Errorf("got events %v, want logout", e.events.kinds())
	}

	// Logout by the body's refresh token alone (the access token expired).
	tk = nativeLogin(e, "app@example.com")
	e.clock.Advance(16 * time.Minute)
	expect(t, nativeCall(e, http.MethodPost, "/logout/", map[string]string{"refresh_token": tk.RefreshToken}, ""), http.StatusOK, "")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": tk.RefreshToken}, ""), http.StatusUnauthorized, "invalid_token")
	// With no valid token at all, logout still answers 200.
	expect(t, nativeCall(e, http.MethodPost, "/logout/", nil, "garbage"), http.StatusOK, "")
}

// TestNativeTokenModeReadsNoCookie attacks the conversion of a cookie
// session into tokens a script could read: a token-mode request that
// carries valid cookies (a page of a trusted origin, an XSS) and nothing
// else is not authenticated, gets no token, and ends nothing.
func TestNativeTokenModeReadsNoCookie(t *testing.T) {
	e := nativeEnv(t, func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://spa.example.com"} })
	e.signupVerified("cookie@example.com", goodPassword)
	c := e.loggedIn("cookie@example.com", goodPassword)
	cookies := coreCookieHeader("access_token", c.accessCookie(), "refresh_token", c.refreshCookie())
	spa := []string{"Cookie", cookies, "Origin", "https://spa.example.com", "Sec-Fetch-Site", "cross-site"}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{http.MethodGet, "/me/", nil, http.StatusUnauthorized, "not_authenticated"},
		{http.MethodPost, "/refresh/", nil, http.StatusUnauthorized, "not_authenticated"},
		{http.MethodPost, "/reauthenticate/", map[string]string{"password": goodPassword}, http.StatusUnauthorized, "not_authenticated"},
		{http.MethodPost, "/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another good passphrase"}, http.StatusUnauthorized, "not_authenticated"},
		{http.MethodPost, "/2fa/setup/", nil, http.StatusUnauthorized, "not_authenticated"},
		{http.MethodPost, "/logout/", nil, http.StatusOK, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := nativeCall(e, tc.method, tc.path, tc.body, "", spa...)
			expect(t, r, tc.status, tc.code)
			if strings.Contains(string(r.body), "tokens") || strings.Contains(string(r.body), c.accessCookie()) || strings.Contains(string(r.body), c.refreshCookie()) {
				t.Fatalf("got %s, want no token", r.body)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Fatalf("got cookies %q, want none", sc)
			}
		})
	}
	// The cookie session lives on: the token-mode logout did not end it.
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	// An untrusted page is refused before anything (CSRF), whatever the mode.
	r := nativeCall(e, http.MethodPost, "/refresh/", nil, "", "Cookie", cookies, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	expect(t, r, http.StatusForbidden, "csrf_failed")
}

// TestNativeCookieClientsSeeNoToken checks every answer that renews the
// session tokens, for a cookie client of a server that allows native
// clients: the tokens are in cookies only, never in the body.
func TestNativeCookieClientsSeeNoToken(t *testing.T) {
	e := nativeEnv(t, func(c *authsys.Config) { c.TwoFactor.TrustedDeviceTTL = time.Hour })
	e.signupVerified("web@example.com", goodPassword)
	c := e.loggedIn("web@example.com", goodPassword)
	check := func(what string, r response) {
		t.Helper()
		expect(t, r, http.StatusOK, "")
		set := 0
		for _, ck := range r.Cookies() {
			if ck.Value == "" {
				continue
			}
			set++
			if strings.Contains(string(r.body), ck.Value) {
				t.Fatalf("%s: the body holds the token of cookie %s: %s", what, ck.Name, r.body)
			}
		}
		if set == 0 {
			t.Fatalf("%s: got no token cookie, want the renewed session's", what)
		}
		if _, ok := r.json(t)["tokens"]; ok {
			t.Fatalf("%s: got a tokens member: %s", what, r.body)
		}
	}
	check("login", c.post("/login/", map[string]string{"email": "web@example.com", "password": goodPassword}))
	e.clock.Advance(time.Minute)
	check("refresh", c.post("/refresh/", nil))
	check("reauthenticate", c.post("/reauthenticate/", map[string]string{"password": goodPassword}))
	check("change-password", c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another good passphrase"}))
	check("change-password back", c.post("/change-password/", map[string]string{"current_password": "another good passphrase", "new_password": goodPassword}))
	secret := c.tfaSetup()
	check("2fa enable", c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())}))
	x, token := e.tfaLogin("web@example.com")
	check("2fa verify-login", x.post("/2fa/verify-login/", map[string]any{"session_token": token, "code": e.tfaFreshCode(secret), "remember_device": true}))
	check("login through a trusted device", x.post("/login/", map[string]string{"email": "web@example.com", "password": goodPassword}))
	x, token = e.tfaLogin("web@example.com")
	check("2fa verify-login again", x.post("/2fa/verify-login/", map[string]any{"session_token": token, "code": e.tfaFreshCode(secret)}))
	check("reauthenticate with 2FA", x.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": e.tfaFreshCode(secret)}))
	check("2fa disable", x.post("/2fa/disable/", map[string]string{"password": goodPassword, "code": e.tfaFreshCode(secret)}))

	// The token-mode members of request bodies are refused to cookie
	// clients, so that a client that forgot X-Auth-Mode learns it.
	for _, tc := range []struct {
		path, field string
		body        map[string]string
	}{
		{"/login/", "trusted_device_token", map[string]string{"email": "web@example.com", "password": goodPassword, "trusted_device_token": "x"}},
		{"/reauthenticate/", "refresh_token", map[string]string{"password": goodPassword, "refresh_token": c.refreshCookie()}},
	} {
		r := x.post(tc.path, tc.body)
		expect(t, r, http.StatusBadRequest, "validation_failed")
		if !strings.Contains(string(r.body), `"`+tc.field+`":[{"code":"token_mode_only"`) {
			t.Errorf("%s: got %s, want a token_mode_only error on %s", tc.path, r.body, tc.field)
		}
	}
}

// TestNativeTokenModeRenewals checks that every answer that renews the
// session gives the new tokens in the body in token mode (no cookie), that
// they work, and that the tokens they replace no longer do.
func TestNativeTokenModeRenewals(t *testing.T) {
	e := nativeEnv(t)
	e.signupVerified("renew@example.com", goodPassword)
	tk := nativeLogin(e, "renew@example.com")

	// Re-authentication without the refresh token renews the access token
	// only; with it, both (the refresh token rotates).
	r := nativeCall(e, http.MethodPost, "/reauthenticate/", map[string]string{"password": goodPassword}, tk.AccessToken)
	expect(t, r, http.StatusOK, "")
	access := nativeTokensOf(t, r, false).AccessToken
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, access), http.StatusOK, "")
	e.clock.Advance(time.Second)
	r = nativeCall(e, http.MethodPost, "/reauthenticate/", map[string]string{"password": goodPassword, "refresh_token": tk.RefreshToken}, access)
	expect(t, r, http.StatusOK, "")
	re := nativeTokensOf(t, r, true)
	if re.RefreshToken == tk.RefreshToken {
		t.Fatal("re-authentication with the refresh token did not rotate it")
	}
	// Another session's refresh token is not rotated by this session.
	other := nativeLogin(e, "renew@example.com")
	r = nativeCall(e, http.MethodPost, "/reauthenticate/", map[string]string{"password": goodPassword, "refresh_token": other.RefreshToken}, re.AccessToken)
	expect(t, r, http.StatusOK, "")
	nativeTokensOf(t, r, false)
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": other.RefreshToken}, ""), http.StatusOK, "")

	// A password change: the client goes on with the new tokens, the old
	// ones (and every other session) are dead.
	r = nativeCall(e, http.MethodPost, "/change-password/", map[string]string{"current_password": goodPassword, "new_password": "another good passphrase"}, re.AccessToken)
	expect(t, r, http.StatusOK, "")
	pw := nativeTokensOf(t, r, true)
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, pw.AccessToken), http.StatusOK, "")
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, re.AccessToken), http.StatusUnauthorized, "invalid_token")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": re.RefreshToken}, ""), http.StatusUnauthorized, "invalid_token")

	// Enabling and disabling 2FA.
	r = nativeCall(e, http.MethodPost, "/2fa/setup/", nil, pw.AccessToken)
	expect(t, r, http.StatusOK, "")
	secret, _ := r.json(t)["secret"].(string)
	r = nativeCall(e, http.MethodPost, "/2fa/enable/", map[string]string{"code": tfaCodeAt(t, secret, e.clock.Now())}, pw.AccessToken)
	expect(t, r, http.StatusOK, "")
	tfaCodes(t, r)
	on := nativeTokensOf(t, r, true)
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, pw.AccessToken), http.StatusUnauthorized, "invalid_token")
	r = nativeCall(e, http.MethodPost, "/2fa/disable/", map[string]string{"password": "another good passphrase", "code": e.tfaFreshCode(secret)}, on.AccessToken)
	expect(t, r, http.StatusOK, "")
	off := nativeTokensOf(t, r, true)
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, on.AccessToken), http.StatusUnauthorized, "invalid_token")
	expect(t, nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": off.RefreshToken}, ""), http.StatusOK, "")

	// Answers that end the session in token mode clear no cookie.
	for _, path := range []string{"/logout-all/"} {
		r := nativeCall(e, http.MethodPost, path, nil, off.AccessToken)
		expect(t, r, http.StatusOK, "")
		if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("%s in token mode set cookies %q", path, sc)
		}
	}
}

// TestNativeTwoFactor runs a 2FA login in token mode and its trusted
// device, whose token comes back in the body and is accepted from the
// login body only.
func TestNativeTwoFactor(t *testing.T) {
	e := nativeEnv(t)
	u := e.tfaEnabled("mobile@example.com")
	login := func(body map[string]string, hdr ...string) response {
		t.Helper()
		body["email"], body["password"] = "mobile@example.com", goodPassword
		r := nativeCall(e, http.MethodPost, "/login/", body, "", hdr...)
		expect(t, r, http.StatusOK, "")
		return r
	}
	r := login(map[string]string{})
	if r.json(t)["requires_2fa"] != true {
		t.Fatalf("got %s, want requires_2fa", r.body)
	}
	token, _ := r.json(t)["session_token"].(string)
	r = nativeCall(e, http.MethodPost, "/2fa/verify-login/", map[string]any{"session_token": token, "code": e.tfaFreshCode(u.secret), "remember_device": true}, "")
	expect(t, r, http.StatusOK, "")
	tk := nativeTokensOf(t, r, true)
	if tk.TrustedDeviceToken == "" || tk.TrustedDeviceExpiresIn != int64((30*24*time.Hour)/time.Second) {
		t.Fatalf("got tokens %+v, want a trusted device token of 30 days", tk)
	}
	expect(t, nativeCall(e, http.MethodGet, "/me/", nil, tk.AccessToken), http.StatusOK, "")

	// The trusted device token in the login body skips the second factor.
	r = login(map[string]string{"trusted_device_token": tk.TrustedDeviceToken})
	if r.json(t)["requires_2fa"] != false {
		t.Fatalf("a trusted device's login: got %s, want a session", r.body)
	}
	device := nativeTokensOf(t, r, true)
	if device.TrustedDeviceToken != "" {
		t.Errorf("a trusted device's login gave a new device token %q", device.TrustedDeviceToken)
	}
	// Such a session is not fresh, as with the cookie.
	expect(t, nativeCall(e, http.MethodPost, "/2fa/setup/", nil, device.AccessToken), http.StatusForbidden, "reauthentication_required")
	// Token mode does not read the trusted device cookie, and a forged
	// token is no device.
	for _, r := range []response{
		login(map[string]string{}, "Cookie", coreCookieHeader("trusted_device", tk.TrustedDeviceToken)),
		login(map[string]string{"trusted_device_token": tk.TrustedDeviceToken + "x"}),
		login(map[string]string{"trusted_device_token": "td_madeup.k1.abc.def"}),
	} {
		if r.json(t)["requires_2fa"] != true {
			t.Fatalf("got %s, want requires_2fa", r.body)
		}
	}
	// The device dies with every session (logout-all).
	expect(t, nativeCall(e, http.MethodPost, "/logout-all/", nil, device.AccessToken), http.StatusOK, "")
	if r := login(map[string]string{"trusted_device_token": tk.TrustedDeviceToken}); r.json(t)["requires_2fa"] != true {
		t.Fatalf("a device after logout-all: got %s, want requires_2fa", r.body)
	}
}

// TestNativeTokenModeRefused checks that token mode is refused, with a
// stable code and before any work, when the server does not allow native
// clients, and that an unknown mode is refused too: never silently
// cookies.
func TestNativeTokenModeRefused(t *testing.T) {
	off := newEnv(t)
	off.signupVerified("off@example.com", goodPassword)
	for _, path := range []string{"/login/", "/refresh/", "/logout/", "/me/", "/openapi.json"} {
		method := http.MethodPost
		if path == "/me/" || path == "/openapi.json" {
			method = http.MethodGet
		}
		expect(t, nativeCall(off, method, path, nil, ""), http.StatusBadRequest, "token_mode_disabled")
	}
	r := nativeCall(off, http.MethodPost, "/login/", map[string]string{"email": "off@example.com", "password": goodPassword}, "")
	expect(t, r, http.StatusBadRequest, "token_mode_disabled")
	if len(r.Header.Values("Set-Cookie")) > 0 || off.events.has(authsys.EventLoginSucceeded) {
		t.Fatalf("a refused token-mode login logged in: cookies %q, events %v", r.Header.Values("Set-Cookie"), off.events.kinds())
	}
	expect(t, coreRaw(off, http.MethodGet, "/api/admin/auth/users/", nil, "X-Auth-Mode", "token"), http.StatusBadRequest, "token_mode_disabled")
	// Bearer headers are ignored without native clients.
	c := off.loggedIn("off@example.com", goodPassword)
	expect(t, coreRaw(off, http.MethodGet, "/api/auth/me/", nil, "Authorization", "Bearer "+c.accessCookie()), http.StatusUnauthorized, "not_authenticated")
	// "cookie" is the default, spelled out.
	expect(t, coreRaw(off, http.MethodGet, "/api/auth/me/", nil, "X-Auth-Mode", "cookie", "Cookie", coreCookieHeader("access_token", c.accessCookie())), http.StatusOK, "")

	on := nativeEnv(t)
	on.signupVerified("on@example.com", goodPassword)
	for _, mode := range []string{"tokens", "Token", "TOKEN", "bearer", "", "token, cookie"} {
		expect(t, coreRaw(on, http.MethodPost, "/api/auth/login/", map[string]string{"email": "on@example.com", "password": goodPassword}, "X-Auth-Mode", mode), http.StatusBadRequest, "invalid_auth_mode")
	}
	// Two headers are one too many.
	req, _ := http.NewRequest(http.MethodGet, on.srv.URL+"/api/auth/me/", nil)
	req.Header.Add("X-Auth-Mode", "token")
	req.Header.Add("X-Auth-Mode", "cookie")
	res, body, err := on.harnessSend(on.srv.Client(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, response{res, body}, http.StatusBadRequest, "invalid_auth_mode")
}

// TestNativeBearerPrecedence checks that a Bearer header wins over the
// access cookie when both are sent, in the API, Middleware and
// Authenticate: explicit credentials win, and a bad Bearer token is
// refused rather than replaced by the cookie.
func TestNativeBearerPrecedence(t *testing.T) {
	e := nativeEnv(t)
	e.signupVerified("bearer@example.com", goodPassword)
	e.signupVerified("cookie@example.com", goodPassword)
	bearer := nativeLogin(e, "bearer@example.com").AccessToken
	cookie := e.loggedIn("cookie@example.com", goodPassword).accessCookie()
	both := []string{"Cookie", coreCookieHeader("access_token", cookie), "Authorization", "Bearer " + bearer}
	r := coreRaw(e, http.MethodGet, "/api/auth/me/", nil, both...)
	expect(t, r, http.StatusOK, "")
	if u, _ := r.json(t)["user"].(map[string]any); u["email"] != "bearer@example.com" {
		t.Fatalf("got %s, want the Bearer token's user", r.body)
	}
	r = coreRaw(e, http.MethodGet, "/api/private", nil, both...)
	if r.StatusCode != http.StatusOK || string(r.body) != "bearer@example.com" {
		t.Fatalf("Middleware: got %d %s, want the Bearer token's user", r.StatusCode, r.body)
	}
	req := authnRequest(e, cookie)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if u, err := e.auth.Authenticate(req); err != nil || u.Email != "bearer@example.com" {
		t.Fatalf("Authenticate: got %q, %v; want the Bearer token's user", u.Email, err)
	}
	// A bad Bearer token is refused, though the cookie is good.
	bad := []string{"Cookie", coreCookieHeader("access_token", cookie), "Authorization", "Bearer garbage"}
	expect(t, coreRaw(e, http.MethodGet, "/api/auth/me/", nil, bad...), http.StatusUnauthorized, "invalid_token")
	expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, bad...), http.StatusUnauthorized, "invalid_token")
	req.Header.Set("Authorization", "Bearer garbage")
	var p *authsys.Problem
	if _, err := e.auth.Authenticate(req); !errors.As(err, &p) || p.Code != authsys.CodeInvalidToken {
		t.Fatalf("Authenticate with a bad Bearer token: got %v, want invalid_token", err)
	}
	// Another scheme, or an empty Bearer, is no Bearer token: the cookie
	// counts.
	for _, a := range []string{"Basic " + bearer, "Bearer ", "Bearer    "} {
		r := coreRaw(e, http.MethodGet, "/api/private", nil, "Cookie", coreCookieHeader("access_token", cookie), "Authorization", a)
		if r.StatusCode != http.StatusOK || string(r.body) != "cookie@example.com" {
			t.Fatalf("Authorization %q: got %d %s, want the cookie's user", a, r.StatusCode, r.body)
		}
	}
}

// TestNativeRefreshReuse checks that reuse detection and the grace period
// work in token mode exactly as with cookies, under racing refreshes.
func TestNativeRefreshReuse(t *testing.T) {
	e := nativeEnv(t)
	e.signupVerified("race@example.com", goodPassword)
	parent := nativeLogin(e, "race@example.com").RefreshToken
	e.clock.Advance(2 * time.Second)
	refresh := func(tok string) response {
		return nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": tok}, "")
	}
	rs := coreParallel(30, func(int) response { return refresh(parent) })
	var successor string
	for i, r := range rs {
		if r.StatusCode != http.StatusOK {
			t.Fatalf("refresh %d: got %d %s, want 200 for every use inside the grace", i, r.StatusCode, r.body)
		}
		var body struct{ Tokens nativeTokens }
		if err := json.Unmarshal(r.body, &body); err != nil || body.Tokens.RefreshToken == "" {
			t.Fatalf("refresh %d: got %s, want tokens", i, r.body)
		}
		if successor == "" {
			successor = body.Tokens.RefreshToken
		}
		if body.Tokens.RefreshToken != successor {
			t.Fatalf("refresh %d: got another successor, want the same for every caller", i)
		}
	}
	// A late caller inside the grace gets the same successor too.
	e.clock.Advance(9 * time.Second)
	r := refresh(parent)
	expect(t, r, http.StatusOK, "")
	if got := nativeTokensOf(t, r, true).RefreshToken; got != successor {
		t.Fatal("a late caller inside the grace got another successor")
	}
	// After the grace the parent (still the session's previous token) is
	// a replay: the whole session dies.
	e.clock.Advance(2 * time.Second)
	expect(t, refresh(parent), http.StatusUnauthorized, "token_reused")
	if !e.events.has(authsys.EventRefreshReuse) {
		t.Errorf("got events %v, want refresh_token_reuse", e.events.kinds())
	}
	expect(t, refresh(successor), http.StatusUnauthorized, "invalid_token")
}

// TestNativeRefreshRateLimit checks that a token-mode refresh spends its
// session's budget as a cookie refresh does, and a refused token the
// client IP's.
func TestNativeRefreshRateLimit(t *testing.T) {
	e := nativeEnv(t, func(c *authsys.Config) {
		c.RateLimits = authsys.RateLimits{Refresh: authsys.Rate{N: 2, Per: time.Minute}}
	})
	e.signupVerified("limit@example.com", goodPassword)
	tk := nativeLogin(e, "limit@example.com")
	refresh := func(tok string) response {
		return nativeCall(e, http.MethodPost, "/refresh/", map[string]string{"refresh_token": tok}, "")
	}
	for range 2 {
		r := refresh(tk.RefreshToken)
		expect(t, r, http.StatusOK, "")
		tk = nativeTokensOf(t, r, true)
	}
	r := refresh(tk.RefreshToken)
	expect(t, r, http.StatusTooManyRequests, "throttled")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another session has its own budget.
	expect(t, refresh(nativeLogin(e, "limit@example.com").RefreshToken), http.StatusOK, "")
	// Garbage spends the IP's.
	expect(t, refresh("garbage"), http.StatusUnauthorized, "invalid_token")
	expect(t, refresh("garbage"), http.StatusUnauthorized, "invalid_token")
	expect(t, refresh("garbage"), http.StatusTooManyRequests, "throttled")
}

// CORS for an SPA on another origin (HTTP.TrustedOrigins): the API's
// preflights and CORS headers, Auth.CrossOrigin for the application's
// routes, and the CSRF check of Middleware and OptionalMiddleware.

const corsSPA = "https://app.example.com"

// corsEnv is an env that trusts corsSPA (and a web view's origin), with
// application routes behind CrossOrigin: /api/app (also behind
// Middleware) and /api/open; calls counts the requests that reached them.
func corsEnv(t *testing.T) (*env, *atomic.Int64) {
	t.Helper()
	e := newEnv(t, func(c *authsys.Config) {
		c.HTTP.TrustedOrigins = []string{corsSPA, "capacitor://localhost"}
		c.Sessions.NativeClients = true
	})
	calls := &atomic.Int64{}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		u, _ := authsys.UserFromContext(r.Context())
		io.WriteString(w, u.Email)
	})
	e.Mux.Handle("/api/app", e.auth.CrossOrigin(e.auth.Middleware(app)))
	e.Mux.Handle("/api/open", e.auth.CrossOrigin(app))
	return e, calls
}

// corsPreflight sends a CORS preflight for method and the requested
// headers (none when "") from origin.
func corsPreflight(e *env, path, origin, method, headers string) response {
	e.t.Helper()
	h := []string{"Origin", origin, "Access-Control-Request-Method", method}
	if headers != "" {
		h = append(h, "Access-Control-Request-Headers", headers)
	}
	return coreRaw(e, http.MethodOptions, path, nil, h...)
}

// corsVaries reports whether r's Vary header names h.
func corsVaries(r response, h string) bool {
	for _, v := range r.Header.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), h) {
				return true
			}
		}
	}
	return false
}

// corsNone checks r carries no CORS header at all.
func corsNone(t *testing.T, what string, r response) {
	t.Helper()
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			t.Errorf("%s: got %s: %q, want no CORS header", what, name, r.Header.Values(name))
		}
	}
}

// corsAllowed checks r lets origin read it, with credentials.
func corsAllowed(t *testing.T, what string, r response, origin string) {
	t.Helper()
	if got := r.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
		t.Errorf("%s: got Access-Control-Allow-Origin %q, want exactly %q", what, got, origin)
	}
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("%s: got Access-Control-Allow-Credentials %q, want true", what, got)
	}
}

// TestCORSPreflight checks the answer to a trusted origin's preflight, on
// the auth API, the admin API and an application route behind
// CrossOrigin.
func TestCORSPreflight(t *testing.T) {
	e, calls := corsEnv(t)
	for _, path := range []string{"/api/auth/login/", "/api/auth/me", "/api/auth/no-such-path/", "/api/admin/auth/users/", "/api/app", "/api/open"} {
		for _, origin := range []string{corsSPA, "capacitor://localhost"} {
			r := corsPreflight(e, path, origin, http.MethodPost, "content-type, Authorization,X-Auth-Mode")
			what := "preflight " + path + " from " + origin
			if r.StatusCode != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("%s: got %d %s, want 204", what, r.StatusCode, r.body)
			}
			corsAllowed(t, what, r, origin)
			methods := strings.Split(r.Header.Get("Access-Control-Allow-Methods"), ", ")
			if !slices.Contains(methods, "POST") || !slices.Contains(methods, "DELETE") || slices.Contains(methods, "*") {
				t.Errorf("%s: got Access-Control-Allow-Methods %q, want the methods listed", what, methods)
			}
			headers := strings.Split(r.Header.Get("Access-Control-Allow-Headers"), ", ")
			for _, h := range []string{"Content-Type", "Authorization", "X-Auth-Mode"} {
				if !slices.Contains(headers, h) {
					t.Errorf("%s: got Access-Control-Allow-Headers %q, want %s", what, headers, h)
				}
			}
			if r.Header.Get("Access-Control-Max-Age") != "7200" {
				t.Errorf("%s: got Access-Control-Max-Age %q, want 7200", what, r.Header.Get("Access-Control-Max-Age"))
			}
			for _, v := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
				if !corsVaries(r, v) {
					t.Errorf("%s: got Vary %q, want %s in it", what, r.Header.Values("Vary"), v)
				}
			}
			coreSecurityHeaders(t, what, r)
		}
	}
	// Methods the application's routes may serve, and the API does not.
	expect(t, corsPreflight(e, "/api/app", corsSPA, http.MethodPut, ""), http.StatusNoContent, "")
	expect(t, corsPreflight(e, "/api/app", corsSPA, http.MethodPatch, "Content-Type"), http.StatusNoContent, "")
	if n := calls.Load(); n != 0 {
		t.Errorf("preflights reached the application %d times, want never", n)
	}
}

// TestCORSRefusals attacks the origin check: untrusted origins, null, and
// origins that merely look like the trusted one get no CORS header and a
// refused preflight; so do methods and headers that are not allowed.
func TestCORSRefusals(t *testing.T) {
	e, calls := corsEnv(t)
	e.signupVerified("victim@example.com", goodPassword)
	c := e.loggedIn("victim@example.com", goodPassword)
	access := coreCookieHeader("access_token", c.accessCookie())
	origins := []string{
		"https://evil.example",
		"null",
		"https://app.example.com.evil.test", // the trusted origin as a prefix
		"https://evilapp.example.com",       // as a suffix
		"https://evil.app.example.com",      // a subdomain
		"http://app.example.com",            // another scheme
		"https://app.example.com:8443",      // another port
		"https://app.example.com:443",       // the default port spelt out
		"https://APP.example.com",           // another case
		"https://app.example.com/",          // a trailing slash
		"https://app.example.com, https://evil.example",
		"*",
		"capacitor://localhost.evil",
	}
	for _, origin := range origins {
		for _, path := range []string{"/api/auth/me/", "/api/admin/auth/users/", "/api/app", "/api/open"} {
			what := path + " from " + origin
			r := corsPreflight(e, path, origin, http.MethodGet, "")
			expect(t, r, http.StatusForbidden, "cors_refused")
			corsNone(t, "preflight "+what, r)
			if !corsVaries(r, "Origin") {
				t.Errorf("preflight %s: got Vary %q, want Origin", what, r.Header.Values("Vary"))
			}
			r = coreRaw(e, http.MethodGet, path, nil, "Origin", origin, "Cookie", access)
			corsNone(t, "GET "+what, r)
			if !corsVaries(r, "Origin") {
				t.Errorf("GET %s: got Vary %q, want Origin", what, r.Header.Values("Vary"))
			}
		}
	}
	for _, tc := range []struct{ what, method, headers string }{
		{"PUT on the API", http.MethodPut, ""},
		{"PATCH on the API", http.MethodPatch, ""},
		{"lower-case post", "post", ""},
		{"CONNECT", http.MethodConnect, ""},
		{"an unknown header", http.MethodPost, "Content-Type, X-Custom"},
		{"a cookie header", http.MethodPost, "Cookie"},
		{"a wildcard header", http.MethodPost, "*"},
	} {
		r := corsPreflight(e, "/api/auth/login/", corsSPA, tc.method, tc.headers)
		expect(t, r, http.StatusForbidden, "cors_refused")
		corsNone(t, tc.what, r)
	}
	expect(t, corsPreflight(e, "/api/app", corsSPA, http.MethodPost, "X-Custom"), http.StatusForbidden, "cors_refused")
	if n, want := calls.Load(), int64(2*len(origins)); n != want {
		t.Errorf("got %d calls of the application, want the %d GETs only", n, want)
	}
	// An OPTIONS request that is no preflight (no Origin, or no
	// requested method) is answered as any other method.
	r := coreRaw(e, http.MethodOptions, "/api/auth/login/", nil, "Access-Control-Request-Method", "POST")
	expect(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	r = coreRaw(e, http.MethodOptions, "/api/auth/login/", nil, "Origin", corsSPA)
	expect(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestCORSResponses checks the CORS headers of actual responses: a
// trusted origin may read every answer (errors and throttling included,
// with Retry-After exposed), credentials allowed and never with "*"; every
// response varies by Origin.
func TestCORSResponses(t *testing.T) {
	e, _ := corsEnv(t)
	e.signupVerified("spa@example.com", goodPassword)
	c := e.loggedIn("spa@example.com", goodPassword)
	from := func(extra ...string) []string {
		return append([]string{"Origin", corsSPA, "Sec-Fetch-Site", "cross-site"}, extra...)
	}
	check := func(what string, r response, trusted bool) {
		t.Helper()
		if trusted {
			corsAllowed(t, what, r, corsSPA)
			if got := r.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Retry-After") {
				t.Errorf("%s: got Access-Control-Expose-Headers %q, want Retry-After", what, got)
			}
		} else {
			corsNone(t, what, r)
		}
		if !corsVaries(r, "Origin") {
			t.Errorf("%s: got Vary %q, want Origin", what, r.Header.Values("Vary"))
		}
		if n := len(r.Header.Values("Vary")); n != 1 {
			t.Errorf("%s: got %d Vary headers %q, want one", what, n, r.Header.Values("Vary"))
		}
		for _, v := range r.Header.Values("Access-Control-Allow-Origin") {
			if v == "*" {
				t.Errorf("%s: got Access-Control-Allow-Origin *", what)
			}
		}
	}
	cookies := func() string {
		return coreCookieHeader("access_token", c.accessCookie(), "refresh_token", c.refreshCookie())
	}
	check("me", coreRaw(e, http.MethodGet, "/api/auth/me/", nil, from("Cookie", cookies())...), true)
	check("login", coreRaw(e, http.MethodPost, "/api/auth/login/", map[string]string{"email": "spa@example.com", "password": goodPassword}, from()...), true)
	check("login refused", coreRaw(e, http.MethodPost, "/api/auth/login/", map[string]string{"email": "spa@example.com", "password": "wrong"}, from()...), true)
	check("401", coreRaw(e, http.MethodGet, "/api/auth/me/", nil, from()...), true)
	check("404", coreRaw(e, http.MethodGet, "/api/auth/nope/", nil, from()...), true)
	check("405", coreRaw(e, http.MethodGet, "/api/auth/login/", nil, from()...), true)
	check("admin 401", coreRaw(e, http.MethodGet, "/api/admin/auth/users/", nil, from()...), true)
	check("app", coreRaw(e, http.MethodGet, "/api/app", nil, from("Cookie", cookies())...), true)
	check("app 401", coreRaw(e, http.MethodGet, "/api/app", nil, from()...), true)
	check("app POST", coreRaw(e, http.MethodPost, "/api/app", nil, from("Cookie", cookies())...), true)
	// Without an Origin (same-origin GET, native clients) or from another
	// origin: no CORS header, but still Vary: Origin, for caches.
	check("me, no Origin", coreRaw(e, http.MethodGet, "/api/auth/me/", nil, "Cookie", cookies()), false)
	check("app, no Origin", coreRaw(e, http.MethodGet, "/api/app", nil, "Cookie", cookies()), false)
	check("openapi, no Origin", coreRaw(e, http.MethodGet, "/api/auth/openapi.json", nil), false)
	// CrossOrigin around a mux that holds Handler adds nothing twice.
	e.Mux.Handle("/nested/", e.auth.CrossOrigin(http.StripPrefix("/nested", e.Mux)))
	check("nested", coreRaw(e, http.MethodGet, "/nested/api/auth/me/", nil, from("Cookie", cookies())...), true)
	check("nested, no Origin", coreRaw(e, http.MethodGet, "/nested/api/auth/me/", nil, "Cookie", cookies()), false)
	r := corsPreflight(e, "/nested/api/auth/me/", corsSPA, http.MethodGet, "")
	expect(t, r, http.StatusNoContent, "")
	corsAllowed(t, "nested preflight", r, corsSPA)

	// A throttled answer exposes Retry-After to the trusted origin.
	lim := newEnv(t, func(c *authsys.Config) {
		c.HTTP.TrustedOrigins = []string{corsSPA}
		c.RateLimits = authsys.RateLimits{Login: authsys.Rate{N: 1, Per: time.Minute}}
	})
	body := map[string]string{"email": "nobody@example.com", "password": "wrong password"}
	coreRaw(lim, http.MethodPost, "/api/auth/login/", body, from()...)
	r = coreRaw(lim, http.MethodPost, "/api/auth/login/", body, from()...)
	expect(t, r, http.StatusTooManyRequests, "throttled")
	check("429", r, true)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestCORSCrossOriginCSRF checks that CrossOrigin refuses unsafe requests
// from untrusted origins with problem+json (not http.CrossOriginProtection's
// text/plain), before the application runs.
func TestCORSCrossOriginCSRF(t *testing.T) {
	e, calls := corsEnv(t)
	e.signupVerified("csrf@example.com", goodPassword)
	c := e.loggedIn("csrf@example.com", goodPassword)
	cookie := coreCookieHeader("access_token", c.accessCookie())
	for _, path := range []string{"/api/app", "/api/open"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			for _, h := range [][]string{
				{"Sec-Fetch-Site", "cross-site"},
				{"Sec-Fetch-Site", "same-site", "Origin", "https://other.example.com"},
				{"Origin", "https://evil.example"},
				{"Origin", "null"},
			} {
				r := coreRaw(e, method, path, nil, append([]string{"Cookie", cookie}, h...)...)
				expect(t, r, http.StatusForbidden, "csrf_failed")
				coreSecurityHeaders(t, method+" "+path, r)
			}
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("refused requests reached the application %d times", n)
	}
	// The trusted origin, same-origin requests and native clients pass.
	expect(t, coreRaw(e, http.MethodPost, "/api/app", nil, "Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", corsSPA), http.StatusOK, "")
	expect(t, coreRaw(e, http.MethodPost, "/api/app", nil, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"), http.StatusOK, "")
	expect(t, coreRaw(e, http.MethodPut, "/api/app", nil, "Authorization", "Bearer "+c.accessCookie()), http.StatusOK, "")
	expect(t, coreRaw(e, http.MethodDelete, "/api/open", nil), http.StatusOK, "")
}

// TestMiddlewareCSRF checks that Middleware and OptionalMiddleware refuse
// an unsafe cross-origin request from an untrusted origin before
// authenticating it: the access cookie is sent with it, and SameSite=Lax
// lets a sibling subdomain's page send it.
func TestMiddlewareCSRF(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{corsSPA} })
	var reached atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	e.Mux.Handle("/api/orders", e.auth.Middleware(h))
	e.Mux.Handle("/api/feed", e.auth.OptionalMiddleware(h))
	e.signupVerified("mw@example.com", goodPassword)
	c := e.loggedIn("mw@example.com", goodPassword)
	cookie := coreCookieHeader("access_token", c.accessCookie())
	for _, path := range []string{"/api/orders", "/api/feed"} {
		for _, h := range [][]string{
			{"Sec-Fetch-Site", "same-site"},
			{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
			{"Origin", "https://shop.example.com"},
		} {
			r := coreRaw(e, http.MethodPost, path, nil, append([]string{"Cookie", cookie}, h...)...)
			expect(t, r, http.StatusForbidden, "csrf_failed")
			coreSecurityHeaders(t, "POST "+path, r)
			// Anonymous too: the check comes before authentication.
			expect(t, coreRaw(e, http.MethodDelete, path, nil, h...), http.StatusForbidden, "csrf_failed")
		}
		if n := reached.Load(); n != 0 {
			t.Fatalf("refused requests reached the handler %d times", n)
		}
		// Safe methods, same-origin, the trusted origin and clients
		// without browser headers pass.
		for _, r := range []response{
			coreRaw(e, http.MethodGet, path, nil, "Cookie", cookie, "Sec-Fetch-Site", "cross-site"),
			coreRaw(e, http.MethodPost, path, nil, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"),
			coreRaw(e, http.MethodPost, path, nil, "Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", corsSPA),
			coreRaw(e, http.MethodPost, path, nil, "Cookie", cookie),
		} {
			expect(t, r, http.StatusOK, "")
		}
		reached.Store(0)
	}
}

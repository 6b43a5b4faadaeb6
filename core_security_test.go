package authsys_test

// The HTTP security properties of the core endpoints: no enumeration,
// CSRF, security headers, methods and paths, links from FrontendURL only,
// Bearer tokens and cookie attributes.

import (
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

// coreComparable is a response reduced to what a client can tell apart:
// status, body and every header but Date.
func coreComparable(r response) (int, string, http.Header) {
	h := r.Header.Clone()
	h.Del("Date")
	return r.StatusCode, string(r.body), h
}

func coreSameAnswer(t *testing.T, what string, a, b response) {
	t.Helper()
	sa, ba, ha := coreComparable(a)
	sb, bb, hb := coreComparable(b)
	if sa != sb || ba != bb {
		t.Errorf("%s: got %d %s and %d %s, want byte-identical answers", what, sa, ba, sb, bb)
	}
	keys := func(h http.Header) []string {
		var ks []string
		for k, v := range h {
			ks = append(ks, k+": "+strings.Join(v, ","))
		}
		slices.Sort(ks)
		return ks
	}
	if ka, kb := keys(ha), keys(hb); !slices.Equal(ka, kb) {
		t.Errorf("%s: got headers %v and %v, want the same", what, ka, kb)
	}
}

func TestCoreNoEnumeration(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("known@example.com", goodPassword)
	expect(t, e.client().post("/signup/", map[string]string{"email": "pending@example.com", "password": goodPassword}), http.StatusCreated, "")
	coreFlush(e)

	t.Run("signup", func(t *testing.T) {
		body := func(email string) map[string]string {
			return map[string]string{"email": email, "password": "some other passphrase"}
		}
		fresh := e.client().post("/signup/", body("fresh@example.com"))
		expect(t, fresh, http.StatusCreated, "")
		coreSameAnswer(t, "verified vs unknown", e.client().post("/signup/", body("Known@Example.com")), fresh)
		coreSameAnswer(t, "unverified vs unknown", e.client().post("/signup/", body("pending@example.com")), e.client().post("/signup/", body("fresh2@example.com")))
		// The existing accounts are untouched, and their owners are told.
		e.loggedIn("known@example.com", goodPassword)
		if m := coreLastMail(e, "known@example.com", mail.KindSignupAttempt); !strings.HasPrefix(m.Links[0], coreFrontend+"/reset-password") {
			t.Errorf("got signup-attempt link %q, want the reset page", m.Links[0])
		}
		if got := len(coreMails(e, "pending@example.com", mail.KindVerifyAccount)); got != 2 {
			t.Errorf("got %d verification mails to the unverified address, want 2 (signup and repeat)", got)
		}
	})
	t.Run("password reset", func(t *testing.T) {
		for _, known := range []string{"known@example.com", "pending@example.com"} {
			coreSameAnswer(t, known+" vs unknown",
				e.client().post("/password-reset/", map[string]string{"email": known}),
				e.client().post("/password-reset/", map[string]string{"email": "ghost@example.com"}))
		}
	})
	t.Run("resend", func(t *testing.T) {
		for _, known := range []string{"known@example.com", "pending@example.com"} {
			coreSameAnswer(t, known+" vs unknown",
				e.client().post("/verify-account/resend/", map[string]string{"email": known}),
				e.client().post("/verify-account/resend/", map[string]string{"email": "ghost@example.com"}))
		}
	})
	t.Run("login", func(t *testing.T) {
		unknown := e.client().post("/login/", map[string]string{"email": "ghost@example.com", "password": goodPassword})
		wrong := e.client().post("/login/", map[string]string{"email": "known@example.com", "password": "not the password"})
		inactiveWrong := e.client().post("/login/", map[string]string{"email": "pending@example.com", "password": "not the password"})
		expect(t, unknown, http.StatusUnauthorized, "invalid_credentials")
		coreSameAnswer(t, "unknown email vs wrong password", unknown, wrong)
		coreSameAnswer(t, "unknown email vs inactive account, wrong password", unknown, inactiveWrong)
	})
}

// TestCoreLoginUnknownEmailWaitsForAHash proves that a login for an unknown
// email computes a password hash, as a wrong password does: with the only
// hashing slot held, both wait for it until the request deadline and get
// 503, while requests that hash nothing answer at once.
func TestCoreLoginUnknownEmailWaitsForAHash(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.Passwords.MaxConcurrentHashes = 1
		c.HTTP.RequestTimeout = 100 * time.Millisecond
	})
	e.signupVerified("known@example.com", goodPassword)
	release, err := authsys.CoreHasher(e.auth).Reserve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	login := func(email, pw string) response {
		return e.client().post("/login/", map[string]string{"email": email, "password": pw})
	}
	for _, tc := range []struct {
		name, email, pw string
		status          int
		code            string
	}{
		{"unknown email", "ghost@example.com", goodPassword, 503, "service_unavailable"},
		{"not an email", "ghost", goodPassword, 503, "service_unavailable"},
		{"wrong password", "known@example.com", "not the password", 503, "service_unavailable"},
		{"missing password (no hash)", "ghost@example.com", "", 400, "validation_failed"},
	} {
		r := login(tc.email, tc.pw)
		expect(t, r, tc.status, tc.code)
		if tc.status == 503 && r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got no Retry-After on 503", tc.name)
		}
	}
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "ghost@example.com"}), http.StatusOK, "")
	release()
	expect(t, login("ghost@example.com", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	expect(t, login("known@example.com", "not the password"), http.StatusUnauthorized, "invalid_credentials")
}

// TestCoreLoginUnknownEmailCostsAHash proves that the hash spent on an
// unknown email costs what a real verification costs: argon2id allocates
// its whole memory parameter, so the bytes allocated while serving the
// request show one hash of the configured parameters, whatever the clock
// says. It must not run in parallel with other tests.
func TestCoreLoginUnknownEmailCostsAHash(t *testing.T) {
	const memKiB = 8 << 10 // 8 MiB per hash: far above a request's other allocations
	params := authsys.PasswordParams{Memory: memKiB, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	e := newEnv(t, func(c *authsys.Config) { c.Passwords.Params = params })
	e.signupVerified("known@example.com", goodPassword)
	allocated := func(body map[string]string, status int) uint64 {
		t.Helper()
		c := e.client()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := c.post("/login/", body)
		runtime.ReadMemStats(&after)
		expect(t, r, status, "")
		return after.TotalAlloc - before.TotalAlloc
	}
	// Warm up: the dummy hash is made on first use.
	allocated(map[string]string{"email": "warm@example.com", "password": goodPassword}, 401)
	const hash = memKiB << 10
	wrong := allocated(map[string]string{"email": "known@example.com", "password": "not the password"}, 401)
	unknown := allocated(map[string]string{"email": "ghost@example.com", "password": goodPassword}, 401)
	none := allocated(map[string]string{"email": "ghost@example.com"}, 400)
	if none >= hash/2 {
		t.Fatalf("got %d bytes allocated by a request that hashes nothing, want far below %d: the measure is too noisy", none, hash)
	}
	if wrong < hash || wrong >= 2*hash {
		t.Errorf("got %d bytes allocated by a wrong password, want one hash (%d to %d)", wrong, hash, 2*hash)
	}
	if unknown < hash || unknown >= 2*hash {
		t.Errorf("got %d bytes allocated by an unknown email, want one hash (%d to %d), as for a wrong password (%d)", unknown, hash, 2*hash, wrong)
	}
}

func TestCoreCSRF(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	for _, tc := range []struct {
		name, path string
		body       any
		hdr        []string
	}{
		{"logout cross-site", "/logout/", nil, []string{"Sec-Fetch-Site", "cross-site"}},
		{"logout-all same-site", "/logout-all/", nil, []string{"Sec-Fetch-Site", "same-site"}},
		{"change-password foreign Origin", "/change-password/", map[string]string{"current_password": goodPassword, "new_password": "attacker chosen pass"}, []string{"Origin", "https://evil.example"}},
		{"change-email cross-site", "/change-email/", map[string]string{"new_email": "evil@example.com", "password": goodPassword}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"refresh cross-site", "/refresh/", nil, []string{"Sec-Fetch-Site", "cross-site"}},
		{"signup cross-site", "/signup/", map[string]string{"email": "csrf@example.com", "password": goodPassword}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"login foreign Origin", "/login/", map[string]string{"email": "user@example.com", "password": goodPassword}, []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(tc.path, tc.body, tc.hdr...)
			expect(t, r, http.StatusForbidden, "csrf_failed")
			coreSecurityHeaders(t, tc.name, r)
			if len(r.Cookies()) != 0 {
				t.Errorf("got cookies %v on a refused request, want none", r.Cookies())
			}
		})
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
	e.loggedIn("user@example.com", goodPassword)
	if coreUserCount(e) != 1 {
		t.Errorf("got %d users, want 1: the cross-site signup went through", coreUserCount(e))
	}
	// Safe methods and same-origin requests pass.
	expect(t, c.get("/me/", "Sec-Fetch-Site", "cross-site"), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil, "Sec-Fetch-Site", "same-origin"), http.StatusOK, "")
	expect(t, c.post("/refresh/", nil, "Origin", e.srv.URL), http.StatusOK, "")

	t.Run("TrustedOrigins", func(t *testing.T) {
		e := newEnv(t, func(c *authsys.Config) { c.HTTP.TrustedOrigins = []string{"https://spa.example.com"} })
		e.signupVerified("user@example.com", goodPassword)
		c := e.client()
		expect(t, c.post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword},
			"Sec-Fetch-Site", "cross-site", "Origin", "https://spa.example.com"), http.StatusOK, "")
		expect(t, c.post("/refresh/", nil, "Origin", "https://spa.example.com"), http.StatusOK, "")
		expect(t, c.post("/refresh/", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://other.example.com"), http.StatusForbidden, "csrf_failed")
	})
}

func TestCoreSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	anon := e.client()
	for name, r := range map[string]response{
		"signup 201":           anon.post("/signup/", map[string]string{"email": "h@example.com", "password": goodPassword}),
		"login 200":            e.client().post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword}),
		"me 200":               c.get("/me/"),
		"refresh 200":          c.post("/refresh/", nil),
		"openapi 200":          anon.get("/openapi.json"),
		"400":                  anon.post("/login/", "{"),
		"401":                  anon.get("/me/"),
		"403":                  c.post("/logout/", nil, "Sec-Fetch-Site", "cross-site"),
		"404":                  anon.get("/nope"),
		"405":                  anon.get("/login/"),
		"413":                  anon.post("/login/", strings.Repeat(" ", 70<<10)),
		"415":                  anon.do(http.MethodPost, "/api/auth/login/", "email=a", "Content-Type", "application/x-www-form-urlencoded"),
		"middleware 401":       anon.do(http.MethodGet, "/api/private", nil),
		"middleware expired":   coreExpiredAccess(e, c),
		"verify-account GET":   anon.get("/verify-account/?uid=x&token=y"),
		"change-email GET":     anon.get("/change-email-confirm/?token=x"),
		"logout 200 (last)":    c.post("/logout/", nil),
		"HEAD me without auth": anon.do(http.MethodHead, "/api/auth/me/", nil),
	} {
		coreSecurityHeaders(t, name, r)
		if r.StatusCode >= 400 && r.Request.Method != http.MethodHead {
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: got Content-Type %q, want application/problem+json", name, ct)
			}
		}
	}
}

// coreExpiredAccess calls the middleware with c's access token after it
// expired, and puts the clock back.
func coreExpiredAccess(e *env, c *client) response {
	e.t.Helper()
	x := e.client()
	x.setCookie("access_token", c.accessCookie(), "/")
	e.clock.Advance(16 * time.Minute)
	defer e.clock.Advance(-16 * time.Minute)
	r := x.do(http.MethodGet, "/api/private", nil)
	expect(e.t, r, http.StatusUnauthorized, "token_expired")
	return r
}

func TestCoreMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, tc := range []struct {
		path    string
		allowed string
		wrong   string
	}{
		{"/signup/", "POST", http.MethodGet},
		{"/verify-account/", "GET, POST", http.MethodPut},
		{"/verify-account/resend/", "POST", http.MethodGet},
		{"/login/", "POST", http.MethodGet},
		{"/logout/", "POST", http.MethodGet},
		{"/logout-all/", "POST", http.MethodGet},
		{"/refresh/", "POST", http.MethodGet},
		{"/me/", "GET", http.MethodPost},
		{"/password-reset/", "POST", http.MethodGet},
		{"/password-reset-confirm/", "POST", http.MethodGet},
		{"/change-password/", "POST", http.MethodGet},
		{"/change-email/", "POST", http.MethodGet},
		{"/change-email-confirm/", "GET, POST", http.MethodDelete},
	} {
		for _, p := range []string{tc.path, strings.TrimSuffix(tc.path, "/")} {
			t.Run(tc.wrong+" "+p, func(t *testing.T) {
				r := c.do(tc.wrong, "/api/auth"+p, nil)
				expect(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
				if got := r.Header.Get("Allow"); got != tc.allowed {
					t.Errorf("got Allow %q, want %q", got, tc.allowed)
				}
				coreSecurityHeaders(t, p, r)
				// The allowed method reaches the endpoint: never 404 or 405.
				method := strings.Split(tc.allowed, ", ")[0]
				var body any
				if method == http.MethodPost {
					body = map[string]string{}
				}
				if r := c.do(method, "/api/auth"+p, body); r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusMethodNotAllowed ||
					r.StatusCode >= 500 || r.StatusCode/100 == 3 {
					t.Errorf("%s %s: got %d %s, want the endpoint's own answer", method, p, r.StatusCode, r.body)
				}
			})
		}
	}
	for _, p := range []string{"/", "/nope", "/nope/", "/signup/extra", "/me/x", "/SIGNUP/", "/login//"} {
		t.Run("404 "+p, func(t *testing.T) {
			r := c.do(http.MethodPost, "/api/auth"+p, map[string]string{})
			if r.StatusCode/100 == 3 {
				return // the mux cleans the path with a redirect
			}
			expect(t, r, http.StatusNotFound, "not_found")
			coreSecurityHeaders(t, p, r)
		})
	}
}

func TestCoreLinksIgnoreHost(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	hostile := []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "Forwarded", "host=evil.example;proto=http"}
	check := func(to, kind, prefix string) {
		t.Helper()
		m := coreLastMail(e, to, kind)
		for _, l := range m.Links {
			if strings.Contains(l, "evil") || !strings.HasPrefix(l, prefix) {
				t.Errorf("%s: got link %q, want it under %s", kind, l, prefix)
			}
		}
		if strings.Contains(m.Text+m.HTML, "evil.example") {
			t.Errorf("%s: the mail mentions the hostile host", kind)
		}
	}
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
	check("new@example.com", mail.KindVerifyAccount, coreFrontend+"/verify-account?")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "user@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
	check("user@example.com", mail.KindSignupAttempt, coreFrontend+"/reset-password")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/verify-account/resend/", map[string]string{"email": "new@example.com"}, hostile...), http.StatusOK, "")
	check("new@example.com", mail.KindVerifyAccount, coreFrontend+"/verify-account?")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/password-reset/", map[string]string{"email": "user@example.com"}, hostile...), http.StatusOK, "")
	check("user@example.com", mail.KindPasswordReset, coreFrontend+"/reset-password?")
	c := e.loggedIn("user@example.com", goodPassword)
	hdr := append([]string{"Cookie", coreCookieHeader("access_token", c.accessCookie())}, hostile...)
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/change-email/", map[string]string{"new_email": "moved@example.com", "password": goodPassword}, hdr...), http.StatusOK, "")
	check("moved@example.com", mail.KindEmailChangeConfirm, coreFrontend+"/confirm-email-change?")

	t.Run("FrontendURL with a path", func(t *testing.T) {
		e := newEnv(t, func(c *authsys.Config) {
			c.Links.FrontendURL = "https://example.com/app/"
			c.Links.VerifyAccountPath = "/account/verify"
		})
		expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
		if l := coreLastMail(e, "new@example.com", mail.KindVerifyAccount).Links[0]; !strings.HasPrefix(l, "https://example.com/app/account/verify?") {
			t.Errorf("got link %q, want https://example.com/app/account/verify?...", l)
		}
	})
}

func TestCoreBearer(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused by default", true: "AllowBearer"}[allow], func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) { c.Sessions.AllowBearer = allow })
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			access, refresh := c.accessCookie(), c.refreshCookie()
			want, code := http.StatusUnauthorized, "not_authenticated"
			if allow {
				want, code = http.StatusOK, ""
			}
			for _, auth := range []string{"Bearer " + access, "bearer " + access} {
				expect(t, coreRaw(e, http.MethodGet, "/api/auth/me/", nil, "Authorization", auth), want, code)
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", auth), want, code)
			}
			if allow {
				expect(t, coreRaw(e, http.MethodGet, "/api/auth/me/", nil, "Authorization", "Bearer "+refresh), http.StatusUnauthorized, "invalid_token")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Bearer garbage"), http.StatusUnauthorized, "invalid_token")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Basic "+access), http.StatusUnauthorized, "not_authenticated")
				r := coreRaw(e, http.MethodPost, "/api/auth/logout-all/", nil, "Authorization", "Bearer "+access)
				expect(t, r, http.StatusOK, "")
				expect(t, coreRaw(e, http.MethodGet, "/api/private", nil, "Authorization", "Bearer "+access), http.StatusUnauthorized, "invalid_token")
			}
		})
	}
}

func TestCoreCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mutate      func(*authsys.Config)
		secure      bool
		refreshPath string
		domain      string
		sameSite    http.SameSite
	}{
		{"defaults", func(*authsys.Config) {}, true, "/api/auth/", "", http.SameSiteLaxMode},
		{"InsecureCookies", func(c *authsys.Config) { c.Cookies.Insecure = true }, false, "/api/auth/", "", http.SameSiteLaxMode},
		{"RefreshCookiePath and CookieDomain", func(c *authsys.Config) {
			c.Cookies.RefreshPath = "/api/auth/refresh/"
			c.Cookies.Domain = "example.com"
		}, true, "/api/auth/refresh/", "example.com", http.SameSiteLaxMode},
		{"SameSite strict", func(c *authsys.Config) { c.Cookies.SameSite = http.SameSiteStrictMode }, true, "/api/auth/", "", http.SameSiteStrictMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mutate)
			e.signupVerified("user@example.com", goodPassword)
			login := e.client().post("/login/", map[string]string{"email": "user@example.com", "password": goodPassword})
			expect(t, login, http.StatusOK, "")
			refresh := coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", coreSetCookie(login, "refresh_token").Value))
			expect(t, refresh, http.StatusOK, "")
			for _, r := range []response{login, refresh} {
				for _, want := range []struct {
					name, path string
					maxAge     int
				}{
					{"access_token", "/", int((15 * time.Minute).Seconds())},
					{"refresh_token", tc.refreshPath, int((7 * 24 * time.Hour).Seconds())},
				} {
					ck := coreSetCookie(r, want.name)
					if ck == nil {
						t.Fatalf("got no %s cookie", want.name)
					}
					if !ck.HttpOnly || ck.Secure != tc.secure || ck.SameSite != tc.sameSite || ck.Path != want.path || ck.Domain != tc.domain || ck.MaxAge != want.maxAge {
						t.Errorf("got %s cookie %q, want HttpOnly, Secure=%v, SameSite=%v, Path=%s, Domain=%q, Max-Age=%d",
							want.name, ck.Raw, tc.secure, tc.sameSite, want.path, tc.domain, want.maxAge)
					}
				}
			}
		})
	}
}

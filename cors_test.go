package authsys_test

// CORS for an SPA on another origin (HTTP.TrustedOrigins): the API's
// preflights and CORS headers, Auth.CrossOrigin for the application's
// routes, and the CSRF check of Middleware and OptionalMiddleware.

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
)

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

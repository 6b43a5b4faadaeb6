package authsys_test

// Browser tests: the account flow driven from a page in headless Chromium
// (chromedp), so that cookie attributes (Secure, HttpOnly, SameSite, Path)
// and the CSRF protection are checked by a real browser rather than by
// reading headers.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// browserPage is the single page app of the tests: api(method, path, body)
// calls the auth API with fetch and resolves to {status, body}.
const browserPage = `<!doctype html><meta charset="utf-8"><title>app</title>
<script>
async function api(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  return {status: r.status, body: await r.text()};
}
</script>`

// browserAttackPage is a page of another origin (same site: 127.0.0.1 on
// another port) that posts to the app with the user's cookies.
const browserAttackPage = `<!doctype html><meta charset="utf-8"><title>attacker</title>
<script>
async function attack(url, body) {
  await fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
    headers: {"Content-Type": "text/plain"}, body: body});
  return "sent";
}
</script>`

// browserCall is what the app server saw of one request.
type browserCall struct {
	method, path, site string
	status             int
}

type browserLog struct {
	mu    sync.Mutex
	calls []browserCall
}

func (l *browserLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		l.mu.Lock()
		l.calls = append(l.calls, browserCall{r.Method, r.URL.Path, r.Header.Get("Sec-Fetch-Site"), rec.status})
		l.mu.Unlock()
	})
}

func (l *browserLog) find(method, path string) []browserCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []browserCall
	for _, c := range l.calls {
		if c.method == method && c.path == path {
			out = append(out, c)
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// browserContext starts headless Chromium and returns a context for
// chromedp actions. Chromium is looked up as "chromium" (Debian) or
// "chromium-browser"; without it the test skips (fails in CI).
func browserContext(t *testing.T) context.Context {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		testenv.Skip(t, "Chromium is not installed (apt-get install chromium); skipping the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The test servers use httptest's self-signed certificate.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Run starts the browser, which lives as long as the context
	// of that call: it gets no timeout; the later actions do.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// browserResult is what api() resolves to.
type browserResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// browserAPI calls api(method, path, body) in the page and waits for it.
func browserAPI(t *testing.T, ctx context.Context, method, path string, body any) browserResult {
	t.Helper()
	arg := "undefined"
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		arg = string(b)
	}
	js := fmt.Sprintf("api(%q, %q, %s)", method, path, arg)
	res, err := chromedp.Run(ctx, chromedp.Evaluate[browserResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s %s in the browser: %v", method, path, err)
	}
	return res
}

// browserNavigate loads url in the browser's tab.
func browserNavigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
}

// TestBrowserSession runs signup, verification, login, a protected call,
// silent refresh, password change and logout from a page in Chromium, over
// HTTPS with the production cookie settings (Secure, HttpOnly, SameSite
// Lax, the refresh cookie scoped to the API), and then a cross-origin POST
// from another origin of the same site, which the CSRF protection refuses.
func TestBrowserSession(t *testing.T) {
	ctx := browserContext(t)

	mem := memory.New()
	outbox := &mail.Outbox{}
	params := cheapParams
	auth, err := authsys.New(authsys.Config{
		Keys:       authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:      mem,
		Pending:    mem,
		Mailer:     outbox,
		Links:      authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:       authsys.Mail{From: "noreply@example.com"},
		Passwords:  authsys.Passwords{Params: params},
		RateLimits: authsys.RateLimits{Off: true},
		Logger:     discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	log := &browserLog{}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	mux.Handle("GET /api/hello", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := authsys.UserFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", u.Email)
	})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, browserPage)
	})
	app := httptest.NewTLSServer(log.wrap(mux))
	defer app.Close()
	attacker := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, browserAttackPage)
	}))
	defer attacker.Close()

	browserNavigate(t, ctx, app.URL+"/")
	const email, newPassword = "browser@example.com", "a different long passphrase"
	if r := browserAPI(t, ctx, "POST", "/api/auth/signup/", map[string]string{"email": email, "password": goodPassword}); r.Status != http.StatusCreated {
		t.Fatalf("signup: got %d %s, want 201", r.Status, r.Body)
	}
	m, ok := outbox.Last(email)
	if !ok {
		t.Fatal("no verification mail")
	}
	q := linkParams(t, m)
	verify := map[string]string{}
	for k := range q {
		verify[k] = q.Get(k)
	}
	if r := browserAPI(t, ctx, "POST", "/api/auth/verify-account/", verify); r.Status != http.StatusOK {
		t.Fatalf("verify-account: got %d %s, want 200", r.Status, r.Body)
	}
	if r := browserAPI(t, ctx, "POST", "/api/auth/login/", map[string]string{"email": email, "password": goodPassword}); r.Status != http.StatusOK {
		t.Fatalf("login: got %d %s, want 200", r.Status, r.Body)
	}

	// The browser stored both cookies and keeps them from scripts.
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.cookie"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(visible, "access_token") || strings.Contains(visible, "refresh_token") {
		t.Errorf("document.cookie = %q: the auth cookies must be HttpOnly", visible)
	}
	if r := browserAPI(t, ctx, "GET", "/api/hello", nil); r.Status != http.StatusOK || r.Body != "hello "+email {
		t.Fatalf("protected route after login: got %d %q, want 200 %q", r.Status, r.Body, "hello "+email)
	}
	if r := browserAPI(t, ctx, "POST", "/api/auth/refresh/", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh: got %d %s, want 200 (the refresh cookie must reach /api/auth)", r.Status, r.Body)
	}
	if r := browserAPI(t, ctx, "POST", "/api/auth/change-password/", map[string]string{"current_password": goodPassword, "new_password": newPassword}); r.Status != http.StatusOK {
		t.Fatalf("change-password: got %d %s, want 200", r.Status, r.Body)
	}
	// UpdateSessionAuthHash (default true): this browser got fresh cookies.
	if r := browserAPI(t, ctx, "GET", "/api/hello", nil); r.Status != http.StatusOK {
		t.Fatalf("protected route after the password change: got %d %s, want 200", r.Status, r.Body)
	}

	// A page of another origin posts to the app with the user's cookies
	// (same site, so SameSite=Lax does not stop them): refused with 403.
	browserNavigate(t, ctx, attacker.URL+"/")
	js := fmt.Sprintf("attack(%q, %q)", app.URL+"/api/auth/logout-all/", "{}")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	calls := log.find("POST", "/api/auth/logout-all/")
	if len(calls) != 1 || calls[0].status != http.StatusForbidden || calls[0].site == "same-origin" {
		t.Fatalf("cross-origin logout-all: the app saw %+v, want one 403 for a cross-origin request", calls)
	}
	browserNavigate(t, ctx, app.URL+"/")
	if r := browserAPI(t, ctx, "GET", "/api/hello", nil); r.Status != http.StatusOK {
		t.Fatalf("after the refused cross-origin request: got %d %s, want 200 (still logged in)", r.Status, r.Body)
	}

	if r := browserAPI(t, ctx, "POST", "/api/auth/logout/", nil); r.Status != http.StatusOK {
		t.Fatalf("logout: got %d %s, want 200", r.Status, r.Body)
	}
	if r := browserAPI(t, ctx, "GET", "/api/hello", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("protected route after logout: got %d %s, want 401", r.Status, r.Body)
	}
	if r := browserAPI(t, ctx, "POST", "/api/auth/refresh/", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("refresh after logout: got %d %s, want 401", r.Status, r.Body)
	}
}

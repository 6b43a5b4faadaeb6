package authsys_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one Auth behind an httptest server, on memory stores, an outbox
// and a fake clock.
type env struct {
	t      *testing.T
	auth   *authsys.Auth
	srv    *httptest.Server
	clock  *clock
	store  *memory.Store
	outbox *mail.Outbox
	events *eventLog
	cfg    authsys.Config
	// capture holds the env's log records, events and the secrets its
	// calls carried (see secrets_capture_test.go).
	capture *secretsCapture
}

// eventLog records every event the Auth emits.
type eventLog struct {
	mu sync.Mutex
	ev []authsys.Event
}

func (l *eventLog) add(e authsys.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.ev))
	for i, e := range l.ev {
		out[i] = e.Kind
	}
	return out
}

func (l *eventLog) has(kind string) bool {
	for _, k := range l.kinds() {
		if k == kind {
			return true
		}
	}
	return false
}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-signing-key")

// cheapParams keep argon2id fast under -race; TestDefaultParams and the
// benchmarks use the production defaults.
var cheapParams = authsys.PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// newEnv builds an env; mutate adjusts the Config before New.
func newEnv(t *testing.T, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), outbox: &mail.Outbox{}, events: &eventLog{}, capture: newSecretsCapture(t.Name())}
	e.store = memory.New(memory.WithClock(e.clock.Now))
	params := cheapParams
	quiet := discardLogger()
	e.cfg = authsys.Config{
		Keys:       authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:      e.store,
		Pending:    e.store,
		Mailer:     e.outbox,
		Links:      authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:       authsys.Mail{From: "noreply@example.com"},
		Now:        e.clock.Now,
		Passwords:  authsys.Passwords{Params: params},
		RateLimits: authsys.RateLimits{Off: true},
		// Exact expiry boundaries: no clock-skew margin unless a test
		// asks for one (TestClockSkewBetweenInstances).
		Sessions: authsys.Sessions{ClockSkew: -1},
		Hooks:    authsys.Hooks{OnEvent: e.events.add},
		Logger:   quiet,
	}
	for _, m := range mutate {
		m(&e.cfg)
	}
	// Every log record and event also goes to the capture, which fails the
	// test if one of them holds a secret the test's calls carried; a
	// Logger or OnEvent set by mutate still gets everything.
	if e.cfg.Logger == quiet {
		e.cfg.Logger = e.capture.logger(nil)
	} else {
		e.cfg.Logger = e.capture.logger(e.cfg.Logger)
	}
	e.cfg.Hooks.OnEvent = e.capture.onEvent(e.cfg.Hooks.OnEvent)
	auth, err := authsys.New(e.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.auth = auth
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	mux.Handle("/api/admin/auth/", http.StripPrefix("/api/admin/auth", auth.AdminHandler()))
	mux.Handle("GET /api/private", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := authsys.UserFromContext(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, u.Email)
	})))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	harnessEnvs.Store(e.srv.URL, e)
	t.Cleanup(func() { harnessEnvs.Delete(e.srv.URL) })
	// Runs before srv.Close and after the test's own cleanups.
	t.Cleanup(func() { e.capture.checkEnv(t, e.auth) })
	return e
}

// client is a browser-like client with its own cookie jar.
type client struct {
	e   *env
	jar *cookiejar.Jar
	hc  *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is a read response.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.StatusCode, err, r.body)
	}
	return m
}

// code returns the problem code of an error response.
func (r response) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// harnessBody returns the bytes of a request body given as a string, bytes
// or a value to encode as JSON; nil for none.
func harnessBody(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// do sends one request through the client's cookie jar and runs the
// harness checks on it (harnessSend).
func (c *client) do(method, path string, body any, header ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	raw := harnessBody(c.e.t, body)
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, b, err := c.e.harnessSend(c.hc, req, raw)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return response{res, b}
}

// harnessSend sends req, whose body is reqBody (nil for none), to the env's
// server through hc, reads the whole response and runs harnessCheck on the
// call. It returns an error only when the call itself failed, and never
// stops the test, so any goroutine may call it. Every request of the suite
// to the env's server goes through here, whatever helper builds it.
func (e *env) harnessSend(hc *http.Client, req *http.Request, reqBody []byte) (*http.Response, []byte, error) {
	e.t.Helper()
	res, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response of %s %s: %w", req.Method, req.URL.Path, err)
	}
	// The request the server answered: the client's copy when it forked
	// req (a client Timeout) or followed a redirect, which drops the body
	// when it changes the method.
	sent := req
	if res.Request != nil {
		sent = res.Request
		if sent.Method != req.Method {
			reqBody = nil
		}
	}
	e.harnessCheck(sent, reqBody, res, b)
	return res, b, nil
}

// harnessCheck runs every harness check on one finished call to the env's
// server: it records the secrets the call carried in the env's capture
// (secrets_capture_test.go) and checks the call against the OpenAPI
// document (openapi_lite_test.go, and the full validation when
// harnessValidate is set). Failures are reported with t.Errorf, so it may
// run on any goroutine; the capture and both validators are safe for
// concurrent use.
func (e *env) harnessCheck(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	e.t.Helper()
	e.capture.recordCall(req, reqBody, res, resBody)
	openapiLiteCheck(e.t, req, res, resBody)
	if harnessValidate != nil {
		harnessValidate(e.t, req, reqBody, res, resBody)
	}
}

// harnessValidate, when not nil, checks every call made through
// harnessSend; the OpenAPI validation layer (openapi_validate_test.go) sets
// it. It reports with t.Errorf, so it may run on any goroutine.
var harnessValidate func(t *testing.T, req *http.Request, reqBody []byte, res *http.Response, resBody []byte)

// harnessEnvs maps the URL of each live env's server to the env, for the
// helpers that are given only a URL (rlPost).
var harnessEnvs sync.Map // string → *env

// harnessEnvAt returns the live env whose server is at srvURL.
func harnessEnvAt(srvURL string) (*env, error) {
	if e, ok := harnessEnvs.Load(srvURL); ok {
		return e.(*env), nil
	}
	return nil, fmt.Errorf("no live env serves %s: send requests to an env's e.srv.URL", srvURL)
}

func (c *client) post(path string, body any, header ...string) response {
	c.e.t.Helper()
	return c.do(http.MethodPost, "/api/auth"+path, body, header...)
}

func (c *client) get(path string, header ...string) response {
	c.e.t.Helper()
	return c.do(http.MethodGet, "/api/auth"+path, nil, header...)
}

// cookie returns the value of the named cookie the jar would send to path.
func (c *client) cookie(name, path string) string {
	u, _ := url.Parse(c.e.srv.URL + path)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func (c *client) accessCookie() string  { return c.cookie("access_token", "/api/private") }
func (c *client) refreshCookie() string { return c.cookie("refresh_token", "/api/auth/refresh/") }

// setCookie replaces a cookie in the jar (e.g. to replay an old token).
func (c *client) setCookie(name, value, path string) {
	c.e.capture.add(value)
	u, _ := url.Parse(c.e.srv.URL + path)
	c.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

func expect(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("got status %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if code != "" && r.code() != code {
		t.Fatalf("got code %q, want %q; body %s", r.code(), code, r.body)
	}
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("got Content-Type %q for an error, want application/problem+json", ct)
		}
	}
}

// waitMail waits for the background sends and returns the last message to
// addr.
func (e *env) waitMail(to string) mail.Message {
	e.t.Helper()
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	m, ok := e.outbox.Last(to)
	if !ok {
		e.t.Fatalf("no mail to %s", to)
	}
	e.capture.recordMail(m)
	return m
}

// linkParams returns the query of the first link of m.
func linkParams(t *testing.T, m mail.Message) url.Values {
	t.Helper()
	if len(m.Links) == 0 {
		t.Fatalf("mail %q has no link", m.Kind)
	}
	u, err := url.Parse(m.Links[0])
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range u.Query() {
		if k != "uid" {
			for _, v := range vs {
				secretsAddExtra(v)
			}
		}
	}
	return u.Query()
}

const goodPassword = "correct horse battery staple"

// signupVerified signs up email and verifies it through the mailed link.
func (e *env) signupVerified(email, password string) {
	e.t.Helper()
	c := e.client()
	expect(e.t, c.post("/signup/", map[string]string{"email": email, "password": password}), http.StatusCreated, "")
	q := linkParams(e.t, e.waitMail(email))
	expect(e.t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
}

// loggedIn returns a client logged in as email.
func (e *env) loggedIn(email, password string) *client {
	e.t.Helper()
	c := e.client()
	r := c.post("/login/", map[string]string{"email": email, "password": password})
	expect(e.t, r, http.StatusOK, "")
	if c.accessCookie() == "" {
		e.t.Fatalf("login set no access cookie: %s", r.body)
	}
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Names of the rate limits, for testLimits.
const (
	limitLogin          = "login"
	limitSignup         = "signup"
	limitPasswordReset  = "password_reset"
	limitTwoFactor      = "2fa_verify"
	limitTwoFactorDaily = "2fa_verify_daily"
)

// testLimits returns RateLimits with the limits of m, written "N/period"
// ("10/min", "3/1s"), and every other limit off: the tests switch on the
// limits they are about.
func testLimits(m map[string]string) authsys.RateLimits {
	rate := func(name string) authsys.Rate {
		s, ok := m[name]
		if !ok || s == "" {
			return authsys.Rate{Off: true}
		}
		n, per, _ := strings.Cut(s, "/")
		units := map[string]time.Duration{"s": time.Second, "sec": time.Second, "min": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
		d, ok := units[per]
		if !ok {
			var err error
			if d, err = time.ParseDuration(per); err != nil {
				panic("testLimits: bad period in " + s)
			}
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			panic("testLimits: bad count in " + s)
		}
		return authsys.Rate{N: count, Per: d}
	}
	for name := range m {
		switch name {
		case limitLogin, limitSignup, limitPasswordReset, limitTwoFactor, limitTwoFactorDaily:
		default:
			panic("testLimits: unknown limit " + name)
		}
	}
	return authsys.RateLimits{
		Login: rate(limitLogin), Signup: rate(limitSignup), PasswordReset: rate(limitPasswordReset),
		TwoFactor: rate(limitTwoFactor), TwoFactorDaily: rate(limitTwoFactorDaily),
	}
}

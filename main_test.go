package authsys_test

// The root test suite's kit: TestMain, the env every flow test runs on (an
// authtest.Env with the harness checks and the secrets capture), its clients,
// and the helpers the flow files share.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/golang-jwt/jwt/v5"
)

// TestMain runs the root test suite, then fails the run if any secret that
// any test's calls carried appears in any log record or event captured
// during the run (see security_test.go). The per-test check at
// cleanup names the test; this sweep also covers records written after a
// test ended and secrets shared between tests.
func TestMain(m *testing.M) {
	code := m.Run()
	found, nSecrets, nRecords := secretsSweep()
	if len(found) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d secret(s) of %d appear in the %d captured log records and events:\n", len(found), nSecrets, nRecords)
		for _, f := range found {
			fmt.Fprintln(os.Stderr, "  ", f)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "secrets check: none of %d secrets appears in %d log records and events\n", nSecrets, nRecords)
	}
	os.Exit(code)
}

// testStart is when the fake clocks of the tests start.
var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newClock returns a fake clock at testStart.
func newClock() *authtest.Clock { return authtest.NewClock(testStart) }

// env is one authtest.Env with the suite's extras: its calls go through
// the harness checks (harnessSend), its log records and events through the
// secrets capture, and GET /api/private is a route behind Middleware.
type env struct {
	*authtest.Env
	t      *testing.T
	auth   *authsys.Auth
	srv    *httptest.Server
	clock  *authtest.Clock
	store  *memory.Store
	outbox *mail.Outbox
	events eventLog
	cfg    authsys.Config
	// capture holds the env's log records, events and the secrets its
	// calls carried (see security_test.go).
	capture *secretsCapture
}

// eventLog reads the events an env recorded.
type eventLog struct{ e *authtest.Env }

// list returns every event so far, oldest first.
func (l eventLog) list() []authsys.Event { return l.e.Events() }

func (l eventLog) kinds() []string {
	evs := l.list()
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func (l eventLog) has(kind string) bool {
	return slices.Contains(l.kinds(), kind)
}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-signing-key")

// cheapParams keep argon2id fast under -race; TestDefaultParams and the
// benchmarks use the production defaults.
var cheapParams = authsys.PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// newEnv builds an env on authtest.New, with the suite's defaults (rate
// limits off, no clock-skew margin, testKey); mutate adjusts the Config
// before New.
func newEnv(t *testing.T, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	e := &env{t: t, capture: newSecretsCapture(t.Name())}
	quiet := discardLogger()
	e.Env = authtest.New(t, func(c *authsys.Config) {
		c.Keys = authsys.Keys{Signing: authsys.Key{Secret: testKey}}
		c.Passwords = authsys.Passwords{Params: cheapParams}
		c.RateLimits = authsys.RateLimits{Off: true}
		// Exact expiry boundaries: no clock-skew margin unless a test
		// asks for one (TestClockSkewBetweenInstances).
		c.Sessions = authsys.Sessions{ClockSkew: -1}
		c.Logger = quiet
		for _, m := range mutate {
			m(c)
		}
		// Every log record and event also goes to the capture, which
		// fails the test if one of them holds a secret the test's calls
		// carried; a Logger or OnEvent set by mutate still gets
		// everything.
		if c.Logger == quiet {
			c.Logger = e.capture.logger(nil)
		} else {
			c.Logger = e.capture.logger(c.Logger)
		}
		c.Hooks.OnEvent = e.capture.onEvent(c.Hooks.OnEvent)
	})
	e.auth, e.srv, e.clock, e.store, e.outbox, e.cfg = e.Auth, e.Server, e.Clock, e.Store, e.Outbox, e.Config
	e.events = eventLog{e.Env}
	e.Mux.Handle("GET /api/private", e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := authsys.UserFromContext(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, u.Email)
	})))
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
// (security_test.go) and checks the call against the OpenAPI
// document (openapi_test.go, and the full validation when
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
// harnessSend; the OpenAPI validation layer (openapi_test.go) sets
// it. It reports with t.Errorf, so it may run on any goroutine.
var harnessValidate func(t *testing.T, req *http.Request, reqBody []byte, res *http.Response, resBody []byte)

// harnessEnvs maps the URL of each live env's server to the env, for the
// helpers that are given only a URL (rlPost).
var harnessEnvs sync.Map

// string → *env

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

func (c *client) accessCookie() string { return c.cookie("access_token", "/api/private") }

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
// addr that is not a security notice (notices are sent alongside the
// mails a flow sends, in no set order).
func (e *env) waitMail(to string) mail.Message {
	e.t.Helper()
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	msgs := e.outbox.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; strings.EqualFold(m.To, to) && !slices.Contains(securityNotices, m.Kind) {
			e.capture.recordMail(m)
			return m
		}
	}
	e.t.Fatalf("no mail to %s", to)
	return mail.Message{}
}

// securityNotices are the kinds of the notices sent after security
// changes.
var securityNotices = []string{
	mail.KindPasswordChanged, mail.KindPasswordResetDone, mail.KindTwoFactorEnabled,
	mail.KindTwoFactorDisabled, mail.KindBackupCodesRenewed, mail.KindNewDeviceSignIn,
	mail.KindEmailChangeRequested, mail.KindEmailChangedNotice,
	mail.KindPasskeyAdded, mail.KindPasskeyRemoved,
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
	limitRefresh        = "refresh"
	limitMailDaily      = "mail_daily"
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
		case limitLogin, limitSignup, limitPasswordReset, limitTwoFactor, limitTwoFactorDaily, limitRefresh, limitMailDaily:
		default:
			panic("testLimits: unknown limit " + name)
		}
	}
	return authsys.RateLimits{
		Login: rate(limitLogin), Signup: rate(limitSignup), PasswordReset: rate(limitPasswordReset),
		TwoFactor: rate(limitTwoFactor), TwoFactorDaily: rate(limitTwoFactorDaily),
		Refresh: rate(limitRefresh), MailDaily: rate(limitMailDaily),
	}
}

// Helpers of the core handler tests: a spy that
// counts writes and can be as strict about input as PostgreSQL, raw
// requests without a cookie jar, forged JWTs and mail look-ups.

// coreSpy is the env's authtest.Spy (around its memory store, as both
// UserStore and PendingStore) as the core tests use it: it counts every
// write, and when strict it refuses a NUL byte or invalid UTF-8 in any key
// (email, ID or pending key) with a plain (non-sentinel) error, as
// PostgreSQL does for text columns.
type coreSpy struct {
	spy    *authtest.Spy
	strict bool

	// barrier, when set, holds CreateUser and UpdateUser calls until n of
	// them wait, so that racing requests all pass their earlier checks
	// before any of them writes.
	barrier atomic.Pointer[barrier]
}

// barrier releases its waiters together once n have arrived; later
// arrivals pass at once.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errCoreStrict = errors.New("corespy: invalid byte sequence for encoding UTF8")

// hook is the Spy's hook: the strict check, then the barrier.
func (s *coreSpy) hook(ctx context.Context, c *authtest.Call) error {
	if s.strict && (strings.ContainsRune(c.Key, 0) || !utf8.ValidString(c.Key)) {
		return errCoreStrict
	}
	if c.Method == "CreateUser" || c.Method == "UpdateUser" {
		if b := s.barrier.Load(); b != nil {
			return b.wait(ctx)
		}
	}
	return nil
}

// writeLog returns the writes so far, "Method key": every write call the
// strict check let through, except an UpdateUser that failed.
func (s *coreSpy) writeLog() []string {
	var out []string
	for _, c := range s.spy.Calls() {
		switch c.Method {
		case "CreateUser", "PutPending", "AddPendingIfAbsent", "TakePending", "DeletePending", "IncrPending",
			"CreateSession", "RotateSession", "RevokeSession", "RevokeUserSessions", "PurgeSessions":
			if errors.Is(c.Err, errCoreStrict) {
				continue
			}
		case "UpdateUser":
			if c.Err != nil {
				continue
			}
		default:
			continue
		}
		out = append(out, c.Method+" "+c.Key)
	}
	return out
}

// writes returns how many writes were made so far.
func (s *coreSpy) writes() int { return len(s.writeLog()) }

// spyOn returns a Config mutation that wraps Users and Pending in one
// authtest.Spy and stores it in *spy.
func spyOn(spy **authtest.Spy) func(*authsys.Config) {
	return func(c *authsys.Config) {
		*spy = authtest.NewSpy(c.Users, c.Pending)
		c.Users, c.Pending = *spy, *spy
	}
}

// coreSpyEnv is newEnv with the stores wrapped in a coreSpy.
func coreSpyEnv(t *testing.T, strict bool, mutate ...func(*authsys.Config)) (*env, *coreSpy) {
	t.Helper()
	cs := &coreSpy{strict: strict}
	e := newEnv(t, append([]func(*authsys.Config){spyOn(&cs.spy)}, mutate...)...)
	cs.spy.SetHook(cs.hook)
	return e, cs
}

// coreUser reads a user straight from the store.
func coreUser(e *env, email string) authsys.User {
	e.t.Helper()
	u, err := e.store.UserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatalf("UserByEmail(%q): got error %v, want nil", email, err)
	}
	return u
}

// coreUserCount returns how many users the store holds.
func coreUserCount(e *env) int {
	e.t.Helper()
	us, err := e.store.ListUsers(e.t.Context(), "", "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(us)
}

// coreSetUser changes a user straight in the store.
func coreSetUser(e *env, email string, fn func(*authsys.User)) authsys.User {
	e.t.Helper()
	u, err := e.store.UpdateUser(e.t.Context(), coreUser(e, email).ID, func(u *authsys.User) error { fn(u); return nil })
	if err != nil {
		e.t.Fatalf("UpdateUser(%q): got error %v, want nil", email, err)
	}
	e.dropCache()
	return u
}

// dropCache empties the Auth's authentication cache (Shutdown ends its
// change subscription; the next authenticated request starts another): a
// test that writes to the store directly sees the change at its next
// request, instead of when the store's announcement arrives.
func (e *env) dropCache() {
	e.t.Helper()
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// coreMails waits for background sends and returns the messages to addr
// of kind ("" for any), oldest first.
func coreMails(e *env, to, kind string) []mail.Message {
	e.t.Helper()
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	var out []mail.Message
	for _, m := range e.outbox.Messages() {
		if strings.EqualFold(m.To, to) && (kind == "" || m.Kind == kind) {
			out = append(out, m)
		}
	}
	return out
}

// coreFlush waits for background sends and returns the number of mails
// sent so far.
func coreFlush(e *env) int {
	e.t.Helper()
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	return e.outbox.Len()
}

// coreLastMail returns the last message to addr of kind, failing if none.
func coreLastMail(e *env, to, kind string) mail.Message {
	e.t.Helper()
	ms := coreMails(e, to, kind)
	if len(ms) == 0 {
		e.t.Fatalf("got no %q mail to %s, want one", kind, to)
	}
	return ms[len(ms)-1]
}

// coreRaw sends one request without a cookie jar: cookies are given as
// name=value pairs in the Cookie header of hdr. Like client.do it runs the
// harness checks on the call (harnessSend).
func coreRaw(e *env, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	raw := harnessBody(e.t, body)
	if body != nil {
		hdr = append([]string{"Content-Type", "application/json"}, hdr...)
	}
	return coreRawSend(e, method, path, raw, body != nil, hdr...)
}

// coreRawSend sends one request without a cookie jar, with body when
// hasBody, the headers of hdr (a "Host" pair sets the Host) and no other,
// and runs the harness checks on it.
func coreRawSend(e *env, method, path string, body []byte, hasBody bool, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, b, err := e.harnessSend(e.srv.Client(), req, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return response{res, b}
}

// coreSetCookie returns the cookie named name that r sets, or nil.
func coreSetCookie(r response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// coreCookieHeader builds a Cookie header value.
func coreCookieHeader(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, pairs[i]+"="+pairs[i+1])
	}
	return strings.Join(parts, "; ")
}

// coreJWTParts splits a JWT and decodes its payload.
func coreJWTParts(t *testing.T, tok string) (header, payload map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d JWT parts, want 3: %q", len(parts), tok)
	}
	dec := func(s string) map[string]any {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decoding JWT part: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("decoding JWT part: %v", err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1]), parts[2]
}

// coreEncodePart is the base64url JSON of v.
func coreEncodePart(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// coreSign signs claims with method and key, header kid set.
func coreSign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(maps.Clone(claims)))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing a forged token: %v", err)
	}
	return s
}

// coreLinkQuery returns the query of the first link of m, and checks the
// link points at FrontendURL.
func coreLinkQuery(t *testing.T, m mail.Message, wantPrefix string) url.Values {
	t.Helper()
	if len(m.Links) == 0 {
		t.Fatalf("mail %q has no link", m.Kind)
	}
	if !strings.HasPrefix(m.Links[0], wantPrefix) {
		t.Fatalf("got link %q, want it to start with %q", m.Links[0], wantPrefix)
	}
	return linkParams(t, m)
}

// coreSecurityHeaders checks the headers every auth response carries.
func coreSecurityHeaders(t *testing.T, what string, r response) {
	t.Helper()
	for h, want := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s: got %s %q, want %q", what, h, got, want)
		}
	}
}

// coreLastEvent returns the last event of kind.
func coreLastEvent(e *env, kind string) (authsys.Event, bool) {
	evs := e.events.list()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i], true
		}
	}
	return authsys.Event{}, false
}

// hookOnce makes spy run hook once, just before the next UpdateUser: a
// change that commits while a request is between its reads and its write.
func hookOnce(spy *authtest.Spy, hook func()) {
	var once atomic.Pointer[func()]
	once.Store(&hook)
	spy.SetHook(func(_ context.Context, c *authtest.Call) error {
		if c.Method == "UpdateUser" {
			if h := once.Swap(nil); h != nil {
				(*h)()
			}
		}
		return nil
	})
}

func sameHashes(a, b []store.BackupCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Hash != b[i].Hash || !a[i].UsedAt.Equal(b[i].UsedAt) {
			return false
		}
	}
	return true
}

const coreFrontend = "https://app.example.com"

// coreParallel runs fn(i) for i in [0, n) on n goroutines released at once
// and returns the responses in order.
func coreParallel(n int, fn func(i int) response) []response {
	out := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// coreOneWinner checks that exactly one of rs is 200 and every other is
// 400 invalid_token, and returns the winner's index.
func coreOneWinner(t *testing.T, rs []response) int {
	t.Helper()
	winner := -1
	for i, r := range rs {
		switch {
		case r.StatusCode == http.StatusOK && winner == -1:
			winner = i
		case r.StatusCode == http.StatusOK:
			t.Fatalf("requests %d and %d both got 200, want exactly one", winner, i)
		case r.StatusCode != http.StatusBadRequest || r.code() != "invalid_token":
			t.Fatalf("request %d: got %d %s, want 400 invalid_token for a loser", i, r.StatusCode, r.body)
		}
	}
	if winner == -1 {
		t.Fatal("got no 200, want exactly one")
	}
	return winner
}

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

// coreRawBody is coreRaw with a raw body and no default Content-Type.
func coreRawBody(e *env, method, path string, body []byte, hdr ...string) response {
	e.t.Helper()
	return coreRawSend(e, method, path, body, true, hdr...)
}

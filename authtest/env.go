package authtest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

// start is the time an Env's Clock starts at.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Env is an Auth served by an httptest.Server, on memory stores, a fake
// clock and an outbox. Its fields are set by New and must not be changed.
type Env struct {
	// Auth is the Auth under test.
	Auth *authsys.Auth
	// Config is the configuration Auth was built from, after the defaults
	// of New and the mutations.
	Config authsys.Config
	// Mux is the server's handler: the auth API is mounted at /api/auth/
	// and the admin API at /api/admin/auth/. Add the application's own
	// routes to it.
	Mux *http.ServeMux
	// Server serves Mux over plain HTTP on a loopback address, where a
	// cookie jar (net/http/cookiejar) sends the Secure auth cookies as
	// browsers do for localhost.
	Server *httptest.Server
	// URL is Server's base URL, such as "http://127.0.0.1:43567".
	URL string
	// Clock is the Auth's clock (Config.Now) and Store's.
	Clock *Clock
	// Store is the memory store New made, Config.Users and Config.Pending
	// unless a mutation replaced them.
	Store *memory.Store
	// Outbox receives the Auth's emails, unless a mutation replaced
	// Config.Mailer.
	Outbox *mail.Outbox

	mu     sync.Mutex
	events []authsys.Event
}

// New starts an Env and stops its server when the test ends. Before New,
// each mutate function may change the Config, whose defaults are:
//
//   - Users and Pending: Store, a memory store on Clock;
//   - Mailer: Outbox; Mail.From "noreply@example.com";
//   - Links.FrontendURL "https://app.example.com";
//   - Keys.Signing: a random key;
//   - Now: Clock.Now, starting at 2026-03-01 12:00 UTC;
//   - Passwords.Params: cheap argon2id parameters (64 KiB, one pass), so
//     that tests (under -race too) hash in microseconds; production uses
//     the defaults (authsys.DefaultPasswordParams);
//   - Logger: discards everything;
//   - everything else, rate limits included, as in production.
//
// Every security event is recorded for Events, whatever Hooks.OnEvent a
// mutation sets (which still receives them). New fails the test when
// authsys.New refuses the Config.
func New(t testing.TB, mutate ...func(*authsys.Config)) *Env {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	e := &Env{Clock: NewClock(start), Outbox: &mail.Outbox{}}
	e.Store = memory.New(memory.WithClock(e.Clock.Now))
	cfg := authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: key}},
		Users:     e.Store,
		Pending:   e.Store,
		Mailer:    e.Outbox,
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Now:       e.Clock.Now,
		Passwords: authsys.Passwords{Params: authsys.PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1}},
		Logger:    slog.New(slog.DiscardHandler),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	next := cfg.Hooks.OnEvent
	cfg.Hooks.OnEvent = func(ev authsys.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		if next != nil {
			next(ev)
		}
	}
	a, err := authsys.New(cfg)
	if err != nil {
		t.Fatalf("authsys.New: %v", err)
	}
	e.Auth, e.Config = a, cfg
	e.Mux = http.NewServeMux()
	e.Mux.Handle("/api/auth/", http.StripPrefix("/api/auth", a.Handler()))
	e.Mux.Handle("/api/admin/auth/", http.StripPrefix("/api/admin/auth", a.AdminHandler()))
	e.Server = httptest.NewServer(e.Mux)
	e.URL = e.Server.URL
	t.Cleanup(e.Server.Close)
	return e
}

// Events returns the security events emitted so far, oldest first.
func (e *Env) Events() []authsys.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]authsys.Event(nil), e.events...)
}

// Client returns a new client of the Env's server with a cookie jar of its
// own, like a fresh browser. It does not follow redirects.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// LastMail waits until the emails being sent in the background are sent
// and returns the last one to the address to; it fails the test when there
// is none.
func (e *Env) LastMail(t testing.TB, to string) mail.Message {
	t.Helper()
	if err := e.Auth.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	m, ok := e.Outbox.Last(to)
	if !ok {
		t.Fatalf("got no mail to %s, want one", to)
	}
	return m
}

// Signup signs up email with password through the API, verifies the account
// through the link of the mail it gets, and returns the account as stored.
// It fails the test when a step fails: with production rate limits, more
// than five signups within a minute of Clock are refused, so Advance the
// Clock or turn RateLimits off to sign up more.
func (e *Env) Signup(t testing.TB, email, password string) store.User {
	t.Helper()
	c := e.Client()
	e.post(t, c, "/api/auth/signup/", map[string]string{"email": email, "password": password}, http.StatusCreated)
	link, err := url.Parse(firstLink(t, e.LastMail(t, email)))
	if err != nil {
		t.Fatalf("verification link: %v", err)
	}
	q := link.Query()
	e.post(t, c, "/api/auth/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}, http.StatusOK)
	u, err := e.Config.Users.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("UserByEmail(%q) after signup: %v", email, err)
	}
	return u
}

// Login logs in as email with password and returns a client whose cookie
// jar holds the session's cookies, to call the application's protected
// routes on URL. When no account has the email it first signs up and
// verifies one (see Signup). It fails the test when the login fails or asks
// for a second factor.
func (e *Env) Login(t testing.TB, email, password string) *http.Client {
	t.Helper()
	_, err := e.Config.Users.UserByEmail(t.Context(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.Signup(t, email, password)
	case err != nil:
		t.Fatalf("UserByEmail(%q): %v", email, err)
	}
	c := e.Client()
	body := e.post(t, c, "/api/auth/login/", map[string]string{"email": email, "password": password}, http.StatusOK)
	var r struct {
		Requires2FA bool `json:"requires_2fa"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Requires2FA {
		t.Fatalf("login of %s: got %s, want a session without a second factor", email, body)
	}
	return c
}

// post sends body as JSON to path through c and fails the test unless the
// answer has status want; it returns the answer's body.
func (e *Env) post(t testing.TB, c *http.Client, path string, body any, want int) []byte {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	if res.StatusCode != want {
		t.Fatalf("POST %s: got status %d, want %d; body %s", path, res.StatusCode, want, b)
	}
	return b
}

// firstLink returns the first link of m.
func firstLink(t testing.TB, m mail.Message) string {
	t.Helper()
	if len(m.Links) == 0 {
		t.Fatalf("mail %q to %s has no link", m.Kind, m.To)
	}
	return m.Links[0]
}

package authsys_test

// Helpers of the core handler tests (core_*_test.go): a store wrapper that
// counts writes and can be as strict about input as PostgreSQL, raw
// requests without a cookie jar, forged JWTs and mail look-ups.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

// coreSpy wraps the env's memory store as both UserStore and PendingStore:
// it counts every write, and when strict it refuses a NUL byte or invalid
// UTF-8 in any string argument with a plain (non-sentinel) error, as
// PostgreSQL does for text columns.
type coreSpy struct {
	inner  *memory.Store
	strict bool
	writes atomic.Int64

	mu  sync.Mutex
	log []string // the writes, "Method key"

	// barrier, when set, holds CreateUser and UpdateUser calls until n of
	// them wait, so that racing requests all pass their earlier checks
	// before any of them writes.
	barrier atomic.Pointer[coreBarrier]
}

// coreBarrier releases its waiters together once n have arrived.
type coreBarrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func newCoreBarrier(n int) *coreBarrier { return &coreBarrier{n: n, open: make(chan struct{})} }

func (b *coreBarrier) wait(ctx context.Context) error {
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

func (s *coreSpy) waitBarrier(ctx context.Context) error {
	if b := s.barrier.Load(); b != nil {
		return b.wait(ctx)
	}
	return nil
}

var (
	_ store.UserStore    = (*coreSpy)(nil)
	_ store.PendingStore = (*coreSpy)(nil)
)

var errCoreStrict = errors.New("corespy: invalid byte sequence for encoding UTF8")

func (s *coreSpy) check(args ...string) error {
	if !s.strict {
		return nil
	}
	for _, a := range args {
		if strings.ContainsRune(a, 0) || !utf8.ValidString(a) {
			return errCoreStrict
		}
	}
	return nil
}

func (s *coreSpy) wrote(method, key string) {
	s.writes.Add(1)
	s.mu.Lock()
	s.log = append(s.log, method+" "+key)
	s.mu.Unlock()
}

// writeLog returns the writes so far.
func (s *coreSpy) writeLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

func (s *coreSpy) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if err := s.check(u.Email, u.ID); err != nil {
		return store.User{}, err
	}
	if err := s.waitBarrier(ctx); err != nil {
		return store.User{}, err
	}
	s.wrote("CreateUser", u.Email)
	return s.inner.CreateUser(ctx, u)
}

func (s *coreSpy) UserByID(ctx context.Context, id string) (store.User, error) {
	if err := s.check(id); err != nil {
		return store.User{}, err
	}
	return s.inner.UserByID(ctx, id)
}

func (s *coreSpy) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if err := s.check(email); err != nil {
		return store.User{}, err
	}
	return s.inner.UserByEmail(ctx, email)
}

func (s *coreSpy) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if err := s.check(id); err != nil {
		return store.User{}, err
	}
	if err := s.waitBarrier(ctx); err != nil {
		return store.User{}, err
	}
	u, err := s.inner.UpdateUser(ctx, id, fn)
	if err == nil {
		s.wrote("UpdateUser", id)
	}
	return u, err
}

func (s *coreSpy) PutPending(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(key); err != nil {
		return err
	}
	s.wrote("PutPending", key)
	return s.inner.PutPending(ctx, key, value, ttl)
}

func (s *coreSpy) AddPendingIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.check(key); err != nil {
		return false, err
	}
	s.wrote("AddPendingIfAbsent", key)
	return s.inner.AddPendingIfAbsent(ctx, key, value, ttl)
}

func (s *coreSpy) GetPending(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(key); err != nil {
		return nil, err
	}
	return s.inner.GetPending(ctx, key)
}

func (s *coreSpy) TakePending(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(key); err != nil {
		return nil, err
	}
	s.wrote("TakePending", key)
	return s.inner.TakePending(ctx, key)
}

func (s *coreSpy) DeletePending(ctx context.Context, key string) error {
	if err := s.check(key); err != nil {
		return err
	}
	s.wrote("DeletePending", key)
	return s.inner.DeletePending(ctx, key)
}

func (s *coreSpy) IncrPending(ctx context.Context, key string, ttl time.Duration) (int64, time.Duration, error) {
	if err := s.check(key); err != nil {
		return 0, 0, err
	}
	s.wrote("IncrPending", key)
	return s.inner.IncrPending(ctx, key, ttl)
}

// coreSpyEnv is newEnv with the stores wrapped in a coreSpy.
func coreSpyEnv(t *testing.T, strict bool, mutate ...func(*authsys.Config)) (*env, *coreSpy) {
	t.Helper()
	spy := &coreSpy{strict: strict}
	wrap := func(c *authsys.Config) {
		spy.inner = c.Users.(*memory.Store)
		c.Users, c.Pending = spy, spy
	}
	return newEnv(t, append([]func(*authsys.Config){wrap}, mutate...)...), spy
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
	return u
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
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	for i := len(e.events.ev) - 1; i >= 0; i-- {
		if e.events.ev[i].Kind == kind {
			return e.events.ev[i], true
		}
	}
	return authsys.Event{}, false
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/internal/testenv"
)

// srvInstance is one run of the server in-process.
type srvInstance struct {
	t      *testing.T
	url    string
	stdout *testenv.Buffer
	cancel context.CancelFunc
	done   chan error
}

// srvStart runs the server with args until stop is called or the test
// ends, and returns once it accepts connections.
func srvStart(t *testing.T, args ...string) *srvInstance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &srvInstance{t: t, stdout: &testenv.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { s.done <- runServer(ctx, args, s.stdout, io.Discard, func(addr string) { ready <- addr }) }()
	select {
	case addr := <-ready:
		s.url = "http://" + addr
	case err := <-s.done:
		cancel()
		t.Fatalf("run returned before serving: %v\n%s", err, s.stdout)
	}
	t.Cleanup(func() {
		if s.cancel != nil {
			_ = s.stop()
		}
	})
	return s
}

// stop cancels the run's context and returns run's result.
func (s *srvInstance) stop() error {
	s.cancel()
	s.cancel = nil
	return <-s.done
}

// startLine returns the first line the server printed.
func (s *srvInstance) startLine() string {
	line, _, _ := strings.Cut(s.stdout.String(), "\n")
	return line
}

// srvClient is a browser-like client with a cookie jar. Cookies do not
// depend on the port, so one client talks to several local instances.
type srvClient struct {
	t  *testing.T
	hc *http.Client
}

func newSrvClient(t *testing.T) *srvClient {
	jar, _ := cookiejar.New(nil)
	return &srvClient{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a request (a JSON body unless body is nil) and returns the
// status and body.
func (c *srvClient) do(method, url string, body any) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (c *srvClient) want(status int, method, url string, body any) string {
	c.t.Helper()
	got, b := c.do(method, url, body)
	if got != status {
		c.t.Fatalf("%s %s: got status %d, want %d; body %s", method, url, got, status, b)
	}
	return b
}

// cookie returns the value of the named cookie for url.
func (c *srvClient) cookie(url, name string) string {
	u, _ := http.NewRequest(http.MethodGet, url, nil)
	for _, ck := range c.hc.Jar.Cookies(u.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

var srvConsoleLinkRE = regexp.MustCompile(`(?m)^Link: (http://\S+/verify-account\?\S+)$`)

// srvVerifyURL is the API call the web app's landing page of a
// verification link makes (a GET with the link's query, as curl would).
func srvVerifyURL(link string) string {
	return strings.Replace(link, "/verify-account?", "/api/auth/verify-account/?", 1)
}

// consoleLink waits for the verification mail the console mailer prints
// and returns its link.
func (s *srvInstance) consoleLink() string {
	s.t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		if m := srvConsoleLinkRE.FindStringSubmatch(s.stdout.String()); m != nil {
			return m[1]
		}
	}
	s.t.Fatalf("no verification link printed:\n%s", s.stdout)
	return ""
}

const (
	srvEmail    = "alice@example.com"
	srvPassword = "correct horse battery staple"
)

var srvCreds = map[string]string{"email": srvEmail, "password": srvPassword}

// srvLocalFlags keep a run hermetic: nothing from the environment.
func srvLocalFlags(dir string) []string {
	return []string{"-addr", "127.0.0.1:0", "-key-file", filepath.Join(dir, "authsys.key"),
		"-insecure-cookies", "-redis=", "-postgres=", "-smtp="}
}

// TestRunSQLiteKeepsUsersAcrossRestart runs the default server (SQLite,
// pending state in memory, console mail): an account signed up and
// verified over HTTP can log in after a restart, and the cookies issued
// before the restart still work (the key file persists).
func TestRunSQLiteKeepsUsersAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "authsys.db")
	args := append(srvLocalFlags(dir), "-db", db)

	s := srvStart(t, args...)
	line := s.startLine()
	for _, want := range []string{"http://127.0.0.1:", "users: SQLite " + db, "pending state: in memory", "mail: printed to the console"} {
		if !strings.Contains(line, want) {
			t.Errorf("got start-up line %q, want it to name %q", line, want)
		}
	}
	if strings.Contains(line, "127.0.0.1:0 ") {
		t.Errorf("got start-up line %q, want the bound port", line)
	}
	c := newSrvClient(t)
	c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/", srvCreds)
	link := s.consoleLink()
	if !strings.HasPrefix(link, s.url+"/") {
		t.Errorf("got link %s, want one on the server's own address %s", link, s.url)
	}
	c.want(http.StatusOK, http.MethodGet, srvVerifyURL(link), nil)
	c.want(http.StatusOK, http.MethodPost, s.url+"/api/auth/login/", srvCreds)
	if got := c.want(http.StatusOK, http.MethodGet, s.url+"/api/hello", nil); !strings.Contains(got, srvEmail) {
		t.Errorf("got /api/hello %s, want the user's email", got)
	}
	old := c.cookie(s.url+"/api/hello", "access_token")
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel: got error %v, want nil", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "authsys.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: got %v, %v; want a file with mode 0600", fi, err)
	}

	s = srvStart(t, args...)
	fresh := newSrvClient(t)
	fresh.want(http.StatusOK, http.MethodPost, s.url+"/api/auth/login/", srvCreds)
	fresh.want(http.StatusOK, http.MethodGet, s.url+"/api/hello", nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/api/hello", nil)
	req.AddCookie(&http.Cookie{Name: "access_token", Value: old})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("access cookie from before the restart: got status %d, want 200", res.StatusCode)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel: got error %v, want nil", err)
	}
}

// TestRunNativeAndCORS runs the server with -native and -trusted-origins
// (repeated and comma-separated): a native client logs in, calls the
// example route with its Bearer token, refreshes and logs out without a
// cookie; the SPA origins get CORS answers, others do not.
func TestRunNativeAndCORS(t *testing.T) {
	dir := t.TempDir()
	s := srvStart(t, append(srvLocalFlags(dir), "-db", ":memory:", "-native",
		"-trusted-origins", "https://app.example", "-trusted-origins", "https://admin.example, capacitor://localhost")...)
	for _, want := range []string{"native clients:", "CORS with credentials for: https://app.example, https://admin.example, capacitor://localhost"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("got output %q, want %q", s.stdout, want)
		}
	}
	c := newSrvClient(t)
	c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/", srvCreds)
	c.want(http.StatusOK, http.MethodGet, srvVerifyURL(s.consoleLink()), nil)

	call := func(method, path string, body any, hdr ...string) (*http.Response, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		if len(res.Cookies()) > 0 && req.Header.Get("X-Auth-Mode") == "token" {
			t.Fatalf("%s %s in token mode set cookies %v", method, path, res.Cookies())
		}
		return res, m
	}
	tokens := func(m map[string]any) (access, refresh string) {
		t.Helper()
		tk, _ := m["tokens"].(map[string]any)
		access, _ = tk["access_token"].(string)
		refresh, _ = tk["refresh_token"].(string)
		if access == "" || refresh == "" {
			t.Fatalf("got %v, want tokens", m)
		}
		return access, refresh
	}
	res, m := call(http.MethodPost, "/api/auth/login/", srvCreds, "X-Auth-Mode", "token")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token-mode login: got %d %v", res.StatusCode, m)
	}
	access, refresh := tokens(m)
	if res, m := call(http.MethodGet, "/api/hello", nil, "Authorization", "Bearer "+access); res.StatusCode != http.StatusOK || m["hello"] != srvEmail {
		t.Fatalf("/api/hello with Bearer: got %d %v", res.StatusCode, m)
	}
	res, m = call(http.MethodPost, "/api/auth/refresh/", map[string]string{"refresh_token": refresh}, "X-Auth-Mode", "token")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token-mode refresh: got %d %v", res.StatusCode, m)
	}
	access, _ = tokens(m)
	if res, m := call(http.MethodPost, "/api/auth/logout/", nil, "X-Auth-Mode", "token", "Authorization", "Bearer "+access); res.StatusCode != http.StatusOK {
		t.Fatalf("token-mode logout: got %d %v", res.StatusCode, m)
	}
	if res, _ := call(http.MethodGet, "/api/hello", nil, "Authorization", "Bearer "+access); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/hello after logout: got %d, want 401", res.StatusCode)
	}

	for _, path := range []string{"/api/auth/login/", "/api/hello"} {
		for origin, want := range map[string]int{"https://app.example": 204, "https://admin.example": 204, "capacitor://localhost": 204, "https://evil.example": 403, "https://app.example.evil": 403} {
			res, _ := call(http.MethodOptions, path, nil, "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
			allowed := res.Header.Get("Access-Control-Allow-Origin")
			if res.StatusCode != want || (want == 204) != (allowed == origin) || (want != 204 && allowed != "") {
				t.Errorf("preflight %s from %s: got %d, Access-Control-Allow-Origin %q; want %d", path, origin, res.StatusCode, allowed, want)
			}
		}
	}
	if res, _ := call(http.MethodGet, "/api/hello", nil, "Origin", "https://app.example"); res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("GET /api/hello from the SPA: got CORS headers %v", res.Header)
	}
}

func srvRandom(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// TestRunRedisPostgres runs two instances of the server on the shared
// Redis and PostgreSQL named by AUTHSYS_TEST_REDIS_URL and
// AUTHSYS_TEST_POSTGRES_URL (in a fresh key prefix and schema): signup on
// one, verify and login on the other, refresh and logout across them, then
// a restart keeps the account.
func TestRunRedisPostgres(t *testing.T) {
	redisURL, pgURL := os.Getenv("AUTHSYS_TEST_REDIS_URL"), os.Getenv("AUTHSYS_TEST_POSTGRES_URL")
	if redisURL == "" || pgURL == "" {
		testenv.Skip(t, "set AUTHSYS_TEST_REDIS_URL and AUTHSYS_TEST_POSTGRES_URL (e.g. redis://127.0.0.1:6379/0 and postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the server on Redis and PostgreSQL")
	}
	schema, prefix := srvRandom("authsys_srvtest_"), srvRandom("authsys_srvtest_")+":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if pool, err := pgxpool.New(ctx, pgURL); err == nil {
			if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
			}
			pool.Close()
		}
		o, err := goredis.ParseURL(redisURL)
		if err != nil {
			t.Error(err)
			return
		}
		rc := goredis.NewClient(o)
		defer rc.Close()
		keys, err := rc.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = rc.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting %s*: %v", prefix, err)
		}
	})
	dir := t.TempDir()
	args := append(srvLocalFlags(dir), "-redis", redisURL, "-redis-prefix", prefix, "-postgres", pgURL, "-postgres-schema", schema)
	a, b := srvStart(t, args...), srvStart(t, args...)
	for _, s := range []*srvInstance{a, b} {
		line := s.startLine()
		for _, want := range []string{"users: PostgreSQL (schema " + schema + ")", "pending state: Redis", "mail: printed to the console"} {
			if !strings.Contains(line, want) {
				t.Errorf("got start-up line %q, want it to name %q", line, want)
			}
		}
	}

	c := newSrvClient(t)
	c.want(http.StatusCreated, http.MethodPost, a.url+"/api/auth/signup/", srvCreds)
	link := a.consoleLink()
	c.want(http.StatusOK, http.MethodGet, srvVerifyURL(strings.Replace(link, a.url, b.url, 1)), nil)
	c.want(http.StatusOK, http.MethodPost, b.url+"/api/auth/login/", srvCreds)
	c.want(http.StatusOK, http.MethodGet, a.url+"/api/hello", nil)
	c.want(http.StatusOK, http.MethodPost, a.url+"/api/auth/refresh/", nil)
	refresh := c.cookie(a.url+"/api/auth/refresh/", "refresh_token")
	c.want(http.StatusOK, http.MethodPost, b.url+"/api/auth/logout/", nil)
	replay := newSrvClient(t)
	u, _ := http.NewRequest(http.MethodGet, a.url+"/api/auth/", nil)
	replay.hc.Jar.SetCookies(u.URL, []*http.Cookie{{Name: "refresh_token", Value: refresh, Path: "/api/auth/"}})
	replay.want(http.StatusUnauthorized, http.MethodPost, a.url+"/api/auth/refresh/", nil)

	for _, s := range []*srvInstance{a, b} {
		if err := s.stop(); err != nil {
			t.Fatalf("run after cancel: got error %v, want nil", err)
		}
	}
	s := srvStart(t, args...)
	newSrvClient(t).want(http.StatusOK, http.MethodPost, s.url+"/api/auth/login/", srvCreds)
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel: got error %v, want nil", err)
	}
}

// srvSMTP is an in-process SMTP server that keeps what it receives.
type srvSMTP struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (b *srvSMTP) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return b, nil }
func (b *srvSMTP) Reset()                                          {}
func (b *srvSMTP) Logout() error                                   { return nil }
func (b *srvSMTP) Mail(string, *gosmtp.MailOptions) error          { return nil }
func (b *srvSMTP) Rcpt(string, *gosmtp.RcptOptions) error          { return nil }
func (b *srvSMTP) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	b.mu.Lock()
	b.msgs = append(b.msgs, data)
	b.mu.Unlock()
	return err
}

// TestRunSMTP runs the server with -smtp pointing at an in-process SMTP
// server: the verification mail arrives there and its link verifies the
// account.
func TestRunSMTP(t *testing.T) {
	be := &srvSMTP{}
	smtpSrv := gosmtp.NewServer(be)
	smtpSrv.Domain = "localhost"
	smtpSrv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = smtpSrv.Serve(ln) }()
	t.Cleanup(func() { _ = smtpSrv.Close(); _ = ln.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	dir := t.TempDir()
	s := srvStart(t, append(srvLocalFlags(dir), "-db", ":memory:", "-smtp", "smtp://127.0.0.1:"+port+"?tls=none")...)
	if line := s.startLine(); !strings.Contains(line, "mail: SMTP 127.0.0.1") || !strings.Contains(line, "users: in memory") {
		t.Errorf("got start-up line %q, want it to name SMTP and in-memory users", line)
	}
	c := newSrvClient(t)
	c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/", srvCreds)
	var raw []byte
	for start := time.Now(); raw == nil && time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		be.mu.Lock()
		if len(be.msgs) > 0 {
			raw = be.msgs[0]
		}
		be.mu.Unlock()
	}
	if raw == nil {
		t.Fatal("no mail reached the SMTP server")
	}
	text := srvTextPart(t, raw)
	link := regexp.MustCompile(`http://\S+/verify-account\?\S+`).FindString(text)
	if link == "" {
		t.Fatalf("no verification link in the mail:\n%s", text)
	}
	c.want(http.StatusOK, http.MethodGet, srvVerifyURL(link), nil)
	c.want(http.StatusOK, http.MethodPost, s.url+"/api/auth/login/", srvCreds)
}

// srvTextPart returns the decoded text/plain part of a received message.
func srvTextPart(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// TestRunBackendsFromEnvironment proves that REDIS_URL, DATABASE_URL and
// SMTP_URL configure the backends when the flags are absent: each points
// at nothing, and run fails naming the backend without repeating the
// password.
func TestRunBackendsFromEnvironment(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cases := []struct {
		env, value, want string
	}{
		{"REDIS_URL", "redis://:s3cret-pass@" + closed + "/0", "redis"},
		{"DATABASE_URL", "postgres://u:s3cret-pass@" + closed + "/db?sslmode=disable&connect_timeout=2", "postgres"},
		{"SMTP_URL", "smtp://u:s3cret-pass@mail.example.com:587?tls=bogus", "smtp"},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			for _, name := range []string{"REDIS_URL", "DATABASE_URL", "SMTP_URL"} {
				t.Setenv(name, "")
			}
			t.Setenv(tc.env, tc.value)
			dir := t.TempDir()
			err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "a.db"), "-key-file", filepath.Join(dir, "k")}, io.Discard, io.Discard)
			if err == nil {
				t.Fatalf("run with %s at a dead address: got nil error, want one", tc.env)
			}
			if !strings.Contains(strings.ToLower(err.Error()), tc.want) {
				t.Errorf("got error %q, want it to name %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret-pass") {
				t.Errorf("the error repeats the password: %q", err)
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want a backend error", err)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]string{
		"a,b":        "[a b]",
		" a , b ,, ": "[a b]",
		"https://spa.example.com, https://admin.example.com": "[https://spa.example.com https://admin.example.com]",
	} {
		if got := fmt.Sprint(splitList(in)); got != want {
			t.Errorf("splitList(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRunPasskeys: the server runs passkeys for RP ID localhost on the
// origin http://localhost:<its port>, and -passkeys-rpid= turns them off.
func TestRunPasskeys(t *testing.T) {
	dir := t.TempDir()
	s := srvStart(t, append(srvLocalFlags(dir), "-db", ":memory:")...)
	c := newSrvClient(t)
	var opts struct {
		PublicKey struct {
			RPID string `json:"rpId"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(c.want(http.StatusOK, http.MethodPost, s.url+"/api/auth/passkeys/login/begin/", nil)), &opts); err != nil || opts.PublicKey.RPID != "localhost" {
		t.Errorf("passkey login options: got rpId %q (%v), want localhost", opts.PublicKey.RPID, err)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(s.url, "http://"), ":")
	if got := localhostOrigin(s.url); got != "http://localhost:"+port {
		t.Errorf("localhostOrigin(%s): got %s, want http://localhost:%s", s.url, got, port)
	}
	off := srvStart(t, append(srvLocalFlags(t.TempDir()), "-db", ":memory:", "-passkeys-rpid=")...)
	c.want(http.StatusNotImplemented, http.MethodPost, off.url+"/api/auth/passkeys/login/begin/", nil)
}

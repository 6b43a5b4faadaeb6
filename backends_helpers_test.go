package authsys_test

// Helpers of the backend and fault tests (backends_*_test.go,
// faults_*_test.go): real Redis and PostgreSQL stores in a private key
// prefix or schema, dead and unresponsive addresses, a TCP proxy that stops
// or freezes a dependency on demand, and an in-process SMTP server.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
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

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/totp"
)

const (
	bkRedisEnv    = "AUTHSYS_TEST_REDIS_URL"
	bkPostgresEnv = "AUTHSYS_TEST_POSTGRES_URL"
)

// bkRandomName returns prefix followed by 16 random hex digits.
func bkRandomName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// bkRedisURL returns the test Redis URL or skips the test.
func bkRedisURL(t testing.TB) string { return testenv.RedisURL(t) }

// bkPostgresURL returns the test PostgreSQL URL or skips the test.
func bkPostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(bkPostgresEnv)
	if u == "" {
		testenv.Skipf(t, "%s is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL integration tests", bkPostgresEnv)
	}
	return u
}

// bkRedisClient returns a client of the test Redis whose address is
// replaced by addr when addr is not empty (a proxy, a dead port).
func bkRedisClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(bkRedisURL(t))
	if err != nil {
		t.Fatalf("%s: %v", bkRedisEnv, err)
	}
	if addr != "" {
		o.Addr = addr
	}
	o.ContextTimeoutEnabled = true
	c := goredis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bkRedisStore returns a Redis PendingStore over client in a fresh key
// prefix whose keys are deleted when the test ends.
func bkRedisStore(t testing.TB, client goredis.UniversalClient) *redis.Store {
	t.Helper()
	return redis.New(client, redis.WithPrefix(bkRedisPrefix(t)))
}

// bkRedisPrefix is testenv.RedisPrefix.
func bkRedisPrefix(t testing.TB) string { return testenv.RedisPrefix(t) }

// bkPostgresPool returns a pool on the test database whose host and port
// are replaced by addr when addr is not empty.
func bkPostgresPool(t testing.TB, addr string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(bkPostgresURL(t))
	if err != nil {
		t.Fatalf("%s: %v", bkPostgresEnv, err)
	}
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.Host = host
		cfg.ConnConfig.Port = uint16(p)
		cfg.ConnConfig.Fallbacks = nil
		cfg.ConnConfig.ConnectTimeout = time.Second
		// Check every connection before use: a proxy in front may have
		// dropped it.
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgxpool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// bkPostgresSchema returns a fresh schema name, migrated through direct (a
// pool straight to the test database), and drops the schema when the test
// ends.
func bkPostgresSchema(t testing.TB, direct *pgxpool.Pool) string {
	t.Helper()
	name := bkRandomName("authsys_test_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := direct.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	if err := postgres.New(direct, postgres.WithSchema(name)).Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return name
}

// bkClosedAddr returns a loopback address nothing listens on.
func bkClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// bkSilentAddr returns the address of a listener that accepts connections
// and never answers; they are closed when the test ends.
func bkSilentAddr(t testing.TB) string {
	t.Helper()
	p := bkNewProxy(t, "")
	p.set(bkHang)
	return p.addr()
}

// bkMode is the state of a bkProxy.
type bkMode int

const (
	// bkUp forwards traffic both ways.
	bkUp bkMode = iota
	// bkDown closes every connection and refuses new ones, like a
	// stopped server.
	bkDown
	// bkHang accepts connections and never answers, and stops forwarding
	// on open ones: a hung server.
	bkHang
)

// bkProxy is a TCP proxy in front of a dependency that can stop it (every
// connection reset, new ones refused) or freeze it (nothing answers), and
// bring it back.
type bkProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	mode   bkMode
	closed bool
	conns  map[net.Conn]struct{}
	// held are connections accepted while hung, never forwarded.
	held map[net.Conn]struct{}
	wg   sync.WaitGroup
}

// bkNewProxy starts a proxy to target on a loopback port until the test
// ends. An empty target makes a listener that never answers unless set to
// bkDown.
func bkNewProxy(t testing.TB, target string) *bkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &bkProxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *bkProxy) addr() string { return p.ln.Addr().String() }

// set switches the proxy's mode. bkDown closes every open connection;
// leaving bkHang resets the connections accepted while hung, as a server
// that comes back has forgotten them.
func (p *bkProxy) set(m bkMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != bkHang {
		for c := range p.held {
			_ = c.Close()
		}
		clear(p.held)
	}
	if m == bkDown {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
	p.cond.Broadcast()
}

func (p *bkProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, m := range []map[net.Conn]struct{}{p.conns, p.held} {
		for c := range m {
			_ = c.Close()
		}
		clear(m)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// admit registers a new client connection and reports whether to forward
// it: a stopped or closed proxy closes it, a hung one (or one without a
// target) holds it unanswered.
func (p *bkProxy) admit(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed || p.mode == bkDown:
		_ = c.Close()
		return false
	case p.mode == bkHang || p.target == "":
		p.held[c] = struct{}{}
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// track registers an upstream connection, or closes it and reports false
// when the proxy is closed or down.
func (p *bkProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == bkDown {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *bkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.admit(c) {
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(up) {
			_ = c.Close()
			continue
		}
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, holding data while the proxy hangs.
func (p *bkProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.mode == bkHang && !p.closed {
				p.cond.Wait()
			}
			stop := p.closed
			p.mu.Unlock()
			if stop {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// bkFault is an injected fault that can be armed to fire on every call
// after the next pass ones, counting how often it fired.
type bkFault struct {
	mu    sync.Mutex
	armed bool
	pass  int // calls still let through while armed
	fired int
}

func (f *bkFault) arm(on bool) { f.armAfter(on, 0) }

// armAfter arms the fault for every call after the next pass ones.
func (f *bkFault) armAfter(on bool, pass int) {
	f.mu.Lock()
	f.armed, f.pass = on, pass
	if on {
		f.fired = 0
	}
	f.mu.Unlock()
}

// due reports whether the fault fires on this call, counting down the
// calls let through; a call that ok is false for does not count.
func (f *bkFault) due(ok bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	due := f.armed && f.pass == 0
	if f.armed && f.pass > 0 && ok {
		f.pass--
	}
	return due
}

func (f *bkFault) fire() {
	f.mu.Lock()
	f.fired++
	f.mu.Unlock()
}

func (f *bkFault) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// bkFaultUsers is a UserStore whose UpdateUser, when armed, runs fn on the
// latest user and then fails as if the commit was lost: nothing is written.
type bkFaultUsers struct {
	authsys.UserStore
	bkFault
}

var bkErrCommitLost = errors.New("injected fault: commit lost")

func (s *bkFaultUsers) UpdateUser(ctx context.Context, id string, fn func(*authsys.User) error) (authsys.User, error) {
	if !s.due(true) {
		return s.UserStore.UpdateUser(ctx, id, fn)
	}
	_, err := s.UserStore.UpdateUser(ctx, id, func(u *authsys.User) error {
		if err := fn(u); err != nil {
			return err
		}
		return bkErrCommitLost
	})
	if errors.Is(err, bkErrCommitLost) {
		s.fire()
		return authsys.User{}, errors.Join(store.ErrUnavailable, err)
	}
	return authsys.User{}, err
}

// bkFailCommitDB is a PostgreSQL pool whose transactions, when armed, do
// all their work and then lose the commit: they roll back and report a
// broken connection.
type bkFailCommitDB struct {
	*pgxpool.Pool
	bkFault
}

func (d *bkFailCommitDB) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := d.Pool.BeginTx(ctx, opts)
	if !d.due(err == nil) || err != nil {
		return tx, err
	}
	return &bkLostCommitTx{Tx: tx, db: d}, nil
}

type bkLostCommitTx struct {
	pgx.Tx
	db *bkFailCommitDB
}

func (tx *bkLostCommitTx) Commit(ctx context.Context) error {
	_ = tx.Tx.Rollback(ctx)
	tx.db.fire()
	return &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection reset by peer (injected)")}
}

// bkSMTPMode is how a bkSMTP server treats the next message.
type bkSMTPMode int

const (
	bkSMTPAccept bkSMTPMode = iota // 250
	bkSMTPRefuse                   // 554 at RCPT
	bkSMTPStall                    // never answers DATA until the test ends
)

// bkSMTP is an in-process go-smtp server that records messages and can
// refuse or stall.
type bkSMTP struct {
	mu      sync.Mutex
	mode    bkSMTPMode
	msgs    [][]byte
	stalled int
	release chan struct{}
	port    int
}

// bkStartSMTP runs a plaintext SMTP server on a loopback port until the
// test ends.
func bkStartSMTP(t testing.TB) *bkSMTP {
	t.Helper()
	b := &bkSMTP{release: make(chan struct{})}
	s := gosmtp.NewServer(b)
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		close(b.release)
		_ = s.Close()
		_ = ln.Close()
		<-done
	})
	return b
}

func (b *bkSMTP) set(m bkSMTPMode) {
	b.mu.Lock()
	b.mode = m
	b.mu.Unlock()
}

func (b *bkSMTP) messages() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.msgs...)
}

func (b *bkSMTP) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &bkSMTPSession{b: b}, nil }

type bkSMTPSession struct{ b *bkSMTP }

func (s *bkSMTPSession) Reset()                                      {}
func (s *bkSMTPSession) Logout() error                               { return nil }
func (s *bkSMTPSession) Mail(string, *gosmtp.MailOptions) error      { return nil }
func (s *bkSMTPSession) Rcpt(to string, _ *gosmtp.RcptOptions) error { return s.b.rcpt() }

func (b *bkSMTP) rcpt() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mode == bkSMTPRefuse {
		return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "relay refused (test)"}
	}
	return nil
}

func (s *bkSMTPSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b := s.b
	b.mu.Lock()
	if b.mode == bkSMTPStall {
		b.stalled++
		b.mu.Unlock()
		<-b.release
		return errors.New("stalled")
	}
	b.msgs = append(b.msgs, data)
	b.mu.Unlock()
	return nil
}

// bkCode returns the TOTP code of secret at t.
func bkCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bkEnable2FA sets up and enables 2FA for the logged-in client c and
// returns the secret. It advances the clock by one TOTP step first, so the
// enabling code is never a replay.
func bkEnable2FA(t *testing.T, e *env, c *client, clk *clock) string {
	t.Helper()
	r := c.post("/2fa/setup/", nil)
	expect(t, r, http.StatusOK, "")
	secret, _ := r.json(t)["secret"].(string)
	if secret == "" {
		t.Fatalf("setup returned no secret: %s", r.body)
	}
	clk.Advance(30 * time.Second)
	expect(t, c.post("/2fa/enable/", map[string]string{"code": bkCode(t, secret, clk.Now())}), http.StatusOK, "")
	return secret
}

// bkNoLeak fails when a response body reveals internals of a failure.
func bkNoLeak(t *testing.T, r response, secrets ...string) {
	t.Helper()
	body := strings.ToLower(string(r.body))
	for _, s := range append([]string{"redis", "postgres", "pgx", "sql", "dial", "tcp", "127.0.0.1", "injected", "connection", "goroutine", ".go:"}, secrets...) {
		if s != "" && strings.Contains(body, strings.ToLower(s)) {
			t.Errorf("response body leaks %q: %s", s, r.body)
		}
	}
}

// bkExpectUnavailable checks an outage answer: 503 service_unavailable
// problem+json with Retry-After, no internals, and no Set-Cookie (an
// outage is not a logout).
func bkExpectUnavailable(t *testing.T, r response) {
	t.Helper()
	expect(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("got Retry-After %q on a 503, want a positive number of seconds", ra)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("got Set-Cookie %q on a 503, want none: an outage must not touch the cookies", sc)
	}
	bkNoLeak(t, r)
}

// bkMail is a received SMTP message taken apart.
type bkMail struct {
	to, from, subject string
	mediaType         string
	text, html        string // decoded, LF line endings
}

// bkParseMail parses a raw RFC 5322 message with net/mail and
// mime/multipart (which undoes the quoted-printable encoding).
func bkParseMail(t *testing.T, raw []byte) bkMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail.ReadMessage: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	m := bkMail{to: msg.Header.Get("To"), from: msg.Header.Get("From"), subject: subject}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	m.mediaType = mt
	read := func(r io.Reader) string {
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading a body part: %v", err)
		}
		return strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	if !strings.HasPrefix(mt, "multipart/") {
		m.text = read(quotedprintable.NewReader(msg.Body))
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			m.text = read(p)
		case "text/html":
			m.html = read(p)
		default:
			t.Errorf("unexpected part %q", pt)
		}
	}
}

// bkLinkRE matches the frontend links the tests' emails carry.
var bkLinkRE = regexp.MustCompile(`https://app\.example\.com/[^\s<>"]+`)

// bkLastMailTo returns the last message s received for addr, parsed.
func (s *bkSMTP) lastMailTo(t *testing.T, addr string) bkMail {
	t.Helper()
	msgs := s.messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := bkParseMail(t, msgs[i])
		if strings.Contains(strings.ToLower(m.to), strings.ToLower(addr)) {
			return m
		}
	}
	t.Fatalf("the SMTP server received no mail to %s (%d messages)", addr, len(msgs))
	return bkMail{}
}

// link returns the first frontend link of the text body.
func (m bkMail) link(t *testing.T) *url.URL {
	t.Helper()
	raw := bkLinkRE.FindString(m.text)
	if raw == "" {
		t.Fatalf("no link in the text body:\n%s", m.text)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// bkWaitHealthy waits until probe succeeds: after a dependency returns,
// connections begun during the outage may hold the pool for up to the
// connect timeout. It fails the test if probe never succeeds within 30s.
func bkWaitHealthy(t *testing.T, probe func(ctx context.Context) error) {
	t.Helper()
	var err error
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err = probe(ctx)
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("the dependency did not come back: %v", err)
}

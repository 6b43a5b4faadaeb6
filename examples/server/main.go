// Command server is the runnable reference server of authsys: the whole
// account lifecycle and 2FA on embedded SQLite, an in-memory pending store
// and emails printed to the console; Redis, PostgreSQL and SMTP when
// configured by flags or environment. At / it serves a small web app that
// drives the API (webapp.go), and with the console mailer a development
// mailbox page showing the emails sent.
//
//	go run ./examples/server -insecure-cookies
//	go run ./examples/server -redis redis://127.0.0.1:6379/0 -postgres postgres://127.0.0.1/test -smtp smtp://user:pass@mail:587
//	go run ./examples/server -pwned   # refuse passwords found in data breaches
//	go run ./examples/server admin list
//
// The start-up line names the address and the backends in use. -addr with
// port 0 picks a free port, which the start-up line shows.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/mail/smtp"
	"github.com/authsys-go/authsys/pwned"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/store/sqlite"
)

type options struct {
	addr, frontend, from   string
	db, postgres, redisURL string
	pgSchema, redisPrefix  string
	smtpURL, keyFile       string
	insecureCookies        bool
	noRateLimits           bool
	grace                  time.Duration
	reauthWindow           time.Duration
	trustedOrigins         []string
	native                 bool
	trustedProxies         string
	signingAlgorithm       string
	pwned                  bool
	pwnedURL               string
	passkeysRPID           string
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseFlags(args []string, stderr io.Writer) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.frontend, "frontend-url", "", "absolute URL of the frontend that receives email links (default http://<addr>)")
	fs.StringVar(&o.from, "from", "noreply@example.com", "sender address of emails")
	fs.StringVar(&o.db, "db", "authsys.db", "SQLite database file for users (ignored with -postgres); \":memory:\" keeps users in memory")
	fs.StringVar(&o.postgres, "postgres", env("DATABASE_URL", ""), "PostgreSQL URL for users (env DATABASE_URL)")
	fs.StringVar(&o.pgSchema, "postgres-schema", "public", "PostgreSQL schema holding the tables (created by the migration)")
	fs.StringVar(&o.redisURL, "redis", env("REDIS_URL", ""), "Redis URL for pending state, shared by instances (env REDIS_URL)")
	fs.StringVar(&o.redisPrefix, "redis-prefix", redis.DefaultPrefix, "prefix of every Redis key, so that applications can share a database")
	fs.StringVar(&o.smtpURL, "smtp", env("SMTP_URL", ""), "SMTP URL, e.g. smtp://user:pass@host:587 (env SMTP_URL); default prints emails")
	fs.StringVar(&o.keyFile, "key-file", "authsys.key", "file holding the signing key (created if missing); env AUTHSYS_SIGNING_KEY (hex) wins")
	fs.BoolVar(&o.insecureCookies, "insecure-cookies", false, "drop the Secure cookie attribute (plain-HTTP development only)")
	fs.BoolVar(&o.noRateLimits, "no-rate-limits", false, "disable rate limits")
	fs.DurationVar(&o.grace, "refresh-reuse-grace", 10*time.Second, "how long a rotated refresh token keeps giving the same successor")
	fs.DurationVar(&o.reauthWindow, "reauth-window", 10*time.Minute, "how long a session stays fresh for sensitive actions after a login or POST /reauthenticate/")
	fs.Func("trusted-origins", "origins of an SPA on another origin, allowed CORS with credentials and cross-origin requests (comma-separated, or the flag repeated)", func(s string) error {
		o.trustedOrigins = append(o.trustedOrigins, splitList(s)...)
		return nil
	})
	fs.BoolVar(&o.native, "native", false, "serve native clients: Bearer access tokens, and tokens in JSON bodies for requests with X-Auth-Mode: token")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client")
	fs.StringVar(&o.signingAlgorithm, "signing-algorithm", "HS256", "JWT algorithm: HS256, or EdDSA to publish the public key at /api/auth/jwks.json")
	fs.BoolVar(&o.pwned, "pwned", false, "refuse new passwords found in data breaches (Have I Been Pwned's range API: only 5 hex digits of the password's SHA-1 are sent; when the API is down, passwords pass with a logged warning)")
	fs.StringVar(&o.pwnedURL, "pwned-url", pwned.DefaultBaseURL, "base URL of the Pwned Passwords API that -pwned asks")
	fs.StringVar(&o.passkeysRPID, "passkeys-rpid", "localhost", "relying party ID of passkeys, empty to turn them off; with localhost they work on http://localhost:<port of -addr>, other RP IDs on the origin of -frontend-url")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	return o, fs.Args(), nil
}

// signingKey reads the key from the environment or the key file, creating
// the file with a fresh random key on first start.
func signingKey(path string) ([]byte, error) {
	if v := os.Getenv("AUTHSYS_SIGNING_KEY"); v != "" {
		return hex.DecodeString(strings.TrimSpace(v))
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
}

// backends opens the stores and mailer the options name; closers release
// them.
type backends struct {
	users   authsys.UserStore
	pending authsys.PendingStore
	mailer  authsys.Mailer
	mailbox *devMailbox // the console mailer's, for the web app; nil otherwise
	closers []func()
	desc    []string
}

func (b *backends) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openBackends opens the user store, the pending store and the mailer. The
// admin commands (usersOnly) work on the user store alone, so that they
// work while Redis or SMTP is down: they get an in-memory pending store and
// a mailer that discards (no admin command mails).
func openBackends(ctx context.Context, o options, stdout io.Writer, usersOnly bool) (*backends, error) {
	b := &backends{}
	mem := memory.New()
	switch {
	case o.postgres != "":
		pool, err := pgxpool.New(ctx, o.postgres)
		if err != nil {
			return b, fmt.Errorf("postgres: %w", err)
		}
		b.closers = append(b.closers, pool.Close)
		pg := postgres.New(pool, postgres.WithSchema(o.pgSchema))
		if err := pg.Migrate(ctx); err != nil {
			return b, fmt.Errorf("postgres: migrate: %w", err)
		}
		b.users = pg
		b.desc = append(b.desc, "users: PostgreSQL (schema "+o.pgSchema+")")
	case o.db == ":memory:":
		b.users = mem
		b.desc = append(b.desc, "users: in memory (lost on exit)")
	default:
		db, err := sqlite.Open(o.db)
		if err != nil {
			return b, fmt.Errorf("sqlite: %w", err)
		}
		b.closers = append(b.closers, func() { _ = db.Close() })
		b.users = db
		b.desc = append(b.desc, "users: SQLite "+o.db)
	}
	if usersOnly {
		// The admin commands announce their changes to running servers
		// through the same Redis when there is one (PostgreSQL announces
		// them itself); they still work while Redis is down, and servers
		// then see a change within their cache's maximum age.
		b.pending, b.mailer = mem, &mail.Console{W: io.Discard}
		if o.redisURL != "" {
			if rs, err := redis.NewFromURL(o.redisURL, redis.WithPrefix(o.redisPrefix)); err == nil {
				b.closers = append(b.closers, func() { _ = rs.Close() })
				b.pending = rs
			} else {
				fmt.Fprintf(stdout, "note: Redis is unreachable (%v); running servers see this change within their cache's maximum age\n", err)
			}
		}
		return b, nil
	}
	if o.redisURL != "" {
		rs, err := redis.NewFromURL(o.redisURL, redis.WithPrefix(o.redisPrefix))
		if err != nil {
			return b, fmt.Errorf("redis: %w", err)
		}
		b.closers = append(b.closers, func() { _ = rs.Close() })
		b.pending = rs
		b.desc = append(b.desc, "pending state: Redis")
	} else {
		b.pending = mem
		b.desc = append(b.desc, "pending state: in memory (single instance)")
	}
	if o.smtpURL != "" {
		cfg, err := smtp.ParseURL(o.smtpURL)
		if err != nil {
			return b, fmt.Errorf("smtp: %w", err)
		}
		m, err := smtp.New(cfg)
		if err != nil {
			return b, fmt.Errorf("smtp: %w", err)
		}
		b.mailer = m
		b.desc = append(b.desc, "mail: SMTP "+cfg.Host)
	} else {
		b.mailbox = &devMailbox{next: &mail.Console{W: stdout}}
		b.mailer = b.mailbox
		b.desc = append(b.desc, "mail: printed to the console and shown at "+mailboxRoute)
	}
	return b, nil
}

// run runs the server until ctx is done or SIGINT or SIGTERM arrives, or
// carries out an admin command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, args, stdout, stderr, nil)
}

// runServer is run; ready, when not nil, receives the address the server
// listens on once it accepts connections.
func runServer(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	o, rest, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	admin := len(rest) > 0 && rest[0] == "admin"
	if len(rest) > 0 && !admin {
		return fmt.Errorf("unknown command %q (want no command, or admin)", rest[0])
	}
	b, err := openBackends(ctx, o, stdout, admin)
	defer b.close()
	if err != nil {
		return err
	}
	key, err := signingKey(o.keyFile)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if admin {
		auth, err := authsys.New(authConfig(o, b, key, "http://"+o.addr, logger))
		if err != nil {
			return err
		}
		err = runAdmin(ctx, auth, b.users, rest[1:], stdout, logger)
		// Mails an action sends (a notice) go before the program exits.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return errors.Join(err, auth.Shutdown(sctx))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := o.addr
	if _, port, err := net.SplitHostPort(o.addr); err == nil && port == "0" {
		addr = ln.Addr().String() // the port the system picked
	}
	cfg := authConfig(o, b, key, "http://"+addr, logger)
	auth, err := authsys.New(cfg)
	if err != nil {
		return err
	}
	frontend, err := url.Parse(cfg.Links.FrontendURL)
	if err != nil {
		return fmt.Errorf("-frontend-url: %w", err)
	}

	srv := &http.Server{
		Handler:           newMux(auth, newApp(b.mailbox, frontend.Host, passkeysOf(cfg))),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(stdout, "authsys example server on http://%s (%s)\n", addr, strings.Join(b.desc, "; "))
	if !o.insecureCookies {
		fmt.Fprintln(stdout, "cookies are Secure: over plain HTTP use -insecure-cookies")
	}
	if pk := passkeysOf(cfg); pk.RPID != "" {
		fmt.Fprintf(stdout, "passkeys (RP ID %s) work on %s\n", pk.RPID, strings.Join(pk.Origins, ", "))
	}
	if o.native {
		fmt.Fprintln(stdout, "native clients: Authorization: Bearer accepted; X-Auth-Mode: token returns tokens in JSON bodies")
	}
	if len(o.trustedOrigins) > 0 {
		fmt.Fprintln(stdout, "CORS with credentials for:", strings.Join(o.trustedOrigins, ", "))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return auth.Shutdown(shutdownCtx)
}

// authConfig is the Auth's configuration for the options o and backends b;
// frontend is the default frontend URL, the server's own address.
func authConfig(o options, b *backends, key []byte, frontend string, logger *slog.Logger) authsys.Config {
	own := frontend
	if o.frontend != "" {
		frontend = o.frontend
	}
	cfg := authsys.Config{
		Keys:  authsys.Keys{Signing: authsys.Key{Secret: key, Algorithm: o.signingAlgorithm}},
		Users: b.users, Pending: b.pending, Mailer: b.mailer,
		Mail: authsys.Mail{From: o.from},
		// The links open the web app's landing pages, which post to the
		// API when the person confirms (a mail scanner that fetches the
		// link uses nothing up).
		Links: authsys.Links{
			FrontendURL:       frontend,
			VerifyAccountPath: "/verify-account",
			EmailChangePath:   "/confirm-email-change",
			PasswordResetPath: "/reset-password",
		},
		Profile:    profile(),
		Sessions:   authsys.Sessions{RefreshReuseGrace: o.grace, ReauthWindow: o.reauthWindow, NativeClients: o.native},
		Cookies:    authsys.Cookies{Insecure: o.insecureCookies},
		RateLimits: authsys.RateLimits{Off: o.noRateLimits},
		HTTP: authsys.HTTP{
			TrustedProxies: splitList(o.trustedProxies),
			TrustedOrigins: o.trustedOrigins,
		},
		Logger: logger,
	}
	if o.grace == 0 {
		cfg.Sessions.RefreshReuseGrace = -1 // none
	}
	if o.pwned {
		cfg.Passwords.Breached = &pwned.Checker{BaseURL: o.pwnedURL, Logger: logger}
	}
	if o.passkeysRPID != "" {
		cfg.Passkeys = authsys.Passkeys{RPID: o.passkeysRPID}
		if o.passkeysRPID == "localhost" {
			// Pages at http://localhost:<port> (a secure context, unlike
			// 127.0.0.1, which cannot be an RP ID) run the ceremonies.
			cfg.Passkeys.RPOrigins = []string{localhostOrigin(own)}
		}
	}
	return cfg
}

// localhostOrigin is http://localhost with the port of the URL own.
func localhostOrigin(own string) string {
	if u, err := url.Parse(own); err == nil && u.Port() != "" {
		return "http://localhost:" + u.Port()
	}
	return "http://localhost"
}

// newMux mounts the auth API, the admin API, a protected example route and
// the web app, which serves every other path.
func newMux(auth *authsys.Auth, app http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	mux.Handle("/api/admin/auth/", http.StripPrefix("/api/admin/auth", auth.AdminHandler()))
	// CrossOrigin gives the route the API's CORS (for -trusted-origins)
	// and CSRF handling; OPTIONS is routed to it for the preflights.
	hello := auth.CrossOrigin(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := authsys.UserFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"hello\":%q}\n", u.Email)
	})))
	mux.Handle("GET /api/hello", hello)
	mux.Handle("OPTIONS /api/hello", hello)
	mux.Handle("/", app)
	return mux
}

// splitList splits a comma-separated flag value, trimming the blanks around
// each item and dropping empty ones ("a, b," is a and b).
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

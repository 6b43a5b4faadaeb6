// Command quickstart is a complete application using authsys: users in
// SQLite, short-lived state in memory, emails printed to the console, the
// auth API under /api/auth/ and one protected route, /api/hello.
//
//	export AUTHSYS_SIGNING_KEY=$(openssl rand -hex 32)
//	go run ./examples/quickstart -insecure-cookies   # plain HTTP on 127.0.0.1:8080
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/sqlite"
)

func main() {
	insecure := flag.Bool("insecure-cookies", false, "drop the Secure cookie attribute (plain-HTTP development only)")
	flag.Parse()

	// At least 32 random bytes, hex-encoded: openssl rand -hex 32
	key, err := hex.DecodeString(strings.TrimSpace(os.Getenv("AUTHSYS_SIGNING_KEY")))
	if err != nil || len(key) < 32 {
		log.Fatal("AUTHSYS_SIGNING_KEY must be at least 32 random bytes in hex; generate one with: openssl rand -hex 32")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Printf("listening on http://%s", ln.Addr())
	if err := run(ctx, ln, "app.db", key, *insecure, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves on ln until ctx is done, then shuts down gracefully. Emails
// are printed to mailOut.
func run(ctx context.Context, ln net.Listener, dbPath string, key []byte, insecure bool, mailOut io.Writer) error {
	users, err := sqlite.Open(dbPath) // creates and migrates the file
	if err != nil {
		return err
	}
	defer users.Close()

	auth, err := authsys.New(authsys.Config{
		Keys:    authsys.Keys{Signing: authsys.Key{Secret: key}},
		Users:   users,
		Pending: memory.New(), // one instance; store/redis when several run
		Mailer:  &mail.Console{W: mailOut},
		Mail:    authsys.Mail{From: "noreply@example.com"},
		// Email links open your frontend's pages (/verify-account,
		// /reset-password, /confirm-email-change), which post to the API.
		Links:   authsys.Links{FrontendURL: "http://localhost:3000"},
		Cookies: authsys.Cookies{Insecure: insecure},
	})
	if err != nil {
		return err // a *authsys.ConfigError naming the field
	}

	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	mux.Handle("GET /api/hello", auth.Middleware(http.HandlerFunc(hello)))

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second, // longer than HTTP.RequestTimeout (10 s)
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	return auth.Shutdown(shutdownCtx) // waits for emails still being sent
}

// hello is a protected route: Middleware lets only signed-in users in.
func hello(w http.ResponseWriter, r *http.Request) {
	user, _ := authsys.UserFromContext(r.Context())
	fmt.Fprintf(w, "hello, %s\n", user.Email)
}

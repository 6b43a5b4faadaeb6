package authsys_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail/smtp"
)

// TestBackendsSMTPEndToEnd signs up through the real smtp.Mailer talking to
// an in-process SMTP server: the message arrives with a text and an HTML
// part, both carrying the link, and the link from the received mail
// verifies the account. A password reset then goes the same way.
func TestBackendsSMTPEndToEnd(t *testing.T) {
	srv := bkStartSMTP(t)
	m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: srv.port, TLS: smtp.None})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *authsys.Config) {
		c.Mailer = m
		c.Mail.AppName = "Example Shop"
	})
	const email = "Alice@Example.com"
	c := e.client()
	expect(t, c.post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.messages()); got != 1 {
		t.Fatalf("the SMTP server received %d messages, want 1", got)
	}
	got := srv.lastMailTo(t, "alice@example.com")
	checks := []struct {
		name      string
		got, want string
	}{
		{"To", got.to, "<alice@example.com>"},
		{"From", got.from, "<noreply@example.com>"},
		{"Content-Type", got.mediaType, "multipart/alternative"},
		{"Subject", got.subject, "Example Shop: Confirm your email address"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("got %s %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	link := got.link(t)
	if link.Path != "/verify-account" || link.Query().Get("uid") == "" || link.Query().Get("token") == "" {
		t.Fatalf("got link %s, want /verify-account?uid=…&token=…", link)
	}
	if html := strings.ReplaceAll(link.String(), "&", "&amp;"); !strings.Contains(got.html, `href="`+html+`"`) {
		t.Errorf("the HTML part does not carry the link %s:\n%s", html, got.html)
	}
	if !strings.Contains(got.text, "Example Shop") || !strings.Contains(got.html, "Example Shop") {
		t.Errorf("the app name is missing from a part:\ntext: %s\nhtml: %s", got.text, got.html)
	}

	q := link.Query()
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
	e.loggedIn(email, goodPassword)

	expect(t, c.post("/password-reset/", map[string]string{"email": email}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	reset := srv.lastMailTo(t, "alice@example.com")
	if reset.subject != "Example Shop: Reset your password" {
		t.Fatalf("got subject %q, want the password reset mail", reset.subject)
	}
	q = reset.link(t).Query()
	expect(t, c.post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a new long passphrase"}), http.StatusOK, "")
	e.loggedIn(email, "a new long passphrase")
}

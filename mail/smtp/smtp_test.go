package smtp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/mail/smtp"
)

const (
	testUser = "mailer@example.com"
	testPass = "p@ss w:rd/é"
)

func newMailer(t *testing.T, cfg smtp.Config) *smtp.Mailer {
	t.Helper()
	m, err := smtp.New(cfg)
	if err != nil {
		t.Fatalf("New: got %v, want nil", err)
	}
	return m
}

// parsed is a received message taken apart.
type parsed struct {
	header  netmail.Header
	text    string // decoded, LF line endings
	html    string // decoded, LF line endings; "" for a text-only message
	rawText []byte // the raw DATA
}

// decodeQP decodes a quoted-printable body and turns CRLF into LF.
func decodeQP(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(r))
	if err != nil {
		t.Fatalf("quoted-printable body: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// parseReceived parses a message with net/mail and mime/multipart and checks
// the MIME structure.
func parseReceived(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail.ReadMessage: %v\n%s", err, data)
	}
	p := parsed{header: msg.Header, rawText: data}
	if got := msg.Header.Get("MIME-Version"); got != "1.0" {
		t.Errorf("got MIME-Version %q, want 1.0", got)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	switch mediaType {
	case "text/plain":
		if got := params["charset"]; got != "utf-8" {
			t.Errorf("got charset %q, want utf-8", got)
		}
		if got := msg.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
			t.Errorf("got Content-Transfer-Encoding %q, want quoted-printable", got)
		}
		p.text = decodeQP(t, msg.Body)
	case "multipart/alternative":
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for i, want := range []string{"text/plain", "text/html"} {
			part, err := mr.NextRawPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			mt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if err != nil || mt != want || pp["charset"] != "utf-8" {
				t.Errorf("part %d: got Content-Type %q, want %s; charset=utf-8", i, part.Header.Get("Content-Type"), want)
			}
			if got := part.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
				t.Errorf("part %d: got Content-Transfer-Encoding %q, want quoted-printable", i, got)
			}
			body := decodeQP(t, part)
			if i == 0 {
				p.text = body
			} else {
				p.html = body
			}
		}
		if _, err := mr.NextRawPart(); err != io.EOF {
			t.Errorf("after two parts: got %v, want io.EOF", err)
		}
	default:
		t.Fatalf("got Content-Type %q, want text/plain or multipart/alternative", mediaType)
	}
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d: got %d bytes, want at most 998", i, len(line))
		}
		for _, c := range line {
			if c >= 0x80 {
				t.Errorf("line %d: got a non-ASCII byte, want a 7-bit message", i)
				break
			}
		}
	}
	return p
}

var messageIDRe = regexp.MustCompile(`^<[A-Za-z0-9._-]+@example\.com>$`)

func TestSendMultipartWithAuth(t *testing.T) {
	port, be := startServer(t, serverOptions{user: testUser, pass: testPass, allowInsecureAuth: true})
	m := newMailer(t, smtp.Config{
		Host: "127.0.0.1", Port: port, TLS: smtp.None,
		Username: testUser, Password: testPass,
		From: "Acme <noreply@example.com>",
	})
	msg := mail.Message{
		To:      "jane@example.com",
		Subject: "Bestätigen Sie Ihre E-Mail-Adresse ✓",
		Text: "Héllo,\n\n" + strings.Repeat("a long line with = signs and ü ", 8) + "\n" +
			".\n" + ".leading dot\nFrom the start\n\nhttps://app.example.com/verify?uid=1&token=abc=def\n",
		HTML: "<p>Héllo &amp; <a href=\"https://app.example.com/verify?uid=1&amp;token=abc\">go</a></p>\n.\n",
		Kind: mail.KindVerifyAccount,
	}
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "noreply@example.com" || !slices.Equal(got.to, []string{"jane@example.com"}) {
		t.Errorf("got envelope %q -> %q, want noreply@example.com -> [jane@example.com]", got.from, got.to)
	}
	if !got.authed {
		t.Errorf("got an unauthenticated message, want AUTH PLAIN to have succeeded")
	}
	if auths := be.authAttempts(); len(auths) != 1 || auths[0].username != testUser || auths[0].password != testPass {
		t.Errorf("got auth attempts %+v, want one with %q/%q", auths, testUser, testPass)
	}

	p := parseReceived(t, got.data)
	if p.text != msg.Text {
		t.Errorf("got text part %q, want %q", p.text, msg.Text)
	}
	if p.html != msg.HTML {
		t.Errorf("got HTML part %q, want %q", p.html, msg.HTML)
	}
	if _, err := p.header.Date(); err != nil {
		t.Errorf("Date %q: got %v, want an RFC 5322 date", p.header.Get("Date"), err)
	}
	if id := p.header.Get("Message-ID"); !messageIDRe.MatchString(id) {
		t.Errorf("got Message-ID %q, want <random@example.com>", id)
	}
	rawSubject := p.header.Get("Subject")
	if !strings.HasPrefix(rawSubject, "=?utf-8?") {
		t.Errorf("got raw Subject %q, want an RFC 2047 encoded word", rawSubject)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil || subject != msg.Subject {
		t.Errorf("got Subject %q (%v), want %q", subject, err, msg.Subject)
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "noreply@example.com" || from[0].Name != "Acme" {
		t.Errorf("got From %v (%v), want Acme <noreply@example.com>", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "jane@example.com" {
		t.Errorf("got To %v (%v), want jane@example.com", to, err)
	}
}

func TestSendTextOnlyASCIISubject(t *testing.T) {
	port, be := startServer(t, serverOptions{})
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None})
	msg := mail.Message{To: "jane@example.com", From: "noreply@example.com", Subject: "Reset your password", Text: "Open https://x/?a=1&b=2\n"}
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	if msgs[0].authed {
		t.Errorf("got an authenticated session, want none without credentials")
	}
	p := parseReceived(t, msgs[0].data)
	if p.text != msg.Text {
		t.Errorf("got text %q, want %q", p.text, msg.Text)
	}
	if p.html != "" {
		t.Errorf("got HTML %q, want none", p.html)
	}
	if got := p.header.Get("Subject"); got != msg.Subject {
		t.Errorf("got raw Subject %q, want %q unencoded", got, msg.Subject)
	}
}

func TestSendUsesMessageFromOverConfig(t *testing.T) {
	port, be := startServer(t, serverOptions{})
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None, From: "default@example.net"})
	if err := m.Send(t.Context(), mail.Message{To: "a@example.com", From: "other@example.com", Text: "x"}); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	if msgs := be.messages(); len(msgs) != 1 || msgs[0].from != "other@example.com" {
		t.Fatalf("got %d messages, want one from other@example.com", len(msgs))
	}
	if p := parseReceived(t, be.messages()[0].data); !messageIDRe.MatchString(p.header.Get("Message-ID")) {
		t.Errorf("got Message-ID %q, want its domain taken from the message's From", p.header.Get("Message-ID"))
	}
}

func TestSendNoFrom(t *testing.T) {
	port, be := startServer(t, serverOptions{})
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None})
	if err := m.Send(t.Context(), mail.Message{To: "a@example.com", Text: "x"}); err == nil {
		t.Errorf("Send without any From: got nil, want an error")
	}
	if n := be.sessionCount(); n != 0 {
		t.Errorf("got %d sessions, want 0", n)
	}
}

func TestSendStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	port, be := startServer(t, serverOptions{
		user: testUser, pass: testPass,
		tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	})
	m := newMailer(t, smtp.Config{
		Host: "127.0.0.1", Port: port, // TLS: StartTLS by default
		Username: testUser, Password: testPass,
		From:      "noreply@example.com",
		TLSConfig: &tls.Config{RootCAs: pool},
	})
	msg := mail.Message{To: "jane@example.com", Subject: "Hi", Text: "text", HTML: "<p>html</p>"}
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	if !msgs[0].tls || !msgs[0].authed {
		t.Errorf("got tls=%v authed=%v, want both true", msgs[0].tls, msgs[0].authed)
	}
	for _, a := range be.authAttempts() {
		if !a.tls {
			t.Errorf("got credentials sent before TLS, want them only over TLS")
		}
	}
	p := parseReceived(t, msgs[0].data)
	if p.text != "text" || p.html != "<p>html</p>" {
		t.Errorf("got text %q HTML %q, want %q %q", p.text, p.html, "text", "<p>html</p>")
	}
}

func TestSendImplicitTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	port, be := startServer(t, serverOptions{
		user: testUser, pass: testPass,
		tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		implicit:  true,
	})
	m := newMailer(t, smtp.Config{
		Host: "127.0.0.1", Port: port, TLS: smtp.Implicit,
		Username: testUser, Password: testPass,
		From:      "noreply@example.com",
		TLSConfig: &tls.Config{RootCAs: pool},
	})
	if err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Subject: "Hi", Text: "text"}); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	if msgs := be.messages(); len(msgs) != 1 || !msgs[0].tls || !msgs[0].authed {
		t.Fatalf("got %+v, want one message over TLS, authenticated", msgs)
	}
}

// TestSendTLSRefusals checks that the client never falls back to
// plaintext: an untrusted certificate or a server without STARTTLS ends
// the send before any credentials or message are sent.
func TestSendTLSRefusals(t *testing.T) {
	cert, pool := selfSigned(t)
	_, otherPool := selfSigned(t)
	tests := []struct {
		name    string
		server  serverOptions
		client  smtp.Config
		wantErr error
	}{
		{
			name:   "STARTTLS with an untrusted certificate",
			server: serverOptions{user: testUser, pass: testPass, tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
			client: smtp.Config{TLS: smtp.StartTLS, TLSConfig: &tls.Config{RootCAs: otherPool}},
		},
		{
			name:   "STARTTLS with system roots only",
			server: serverOptions{user: testUser, pass: testPass, tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
			client: smtp.Config{TLS: smtp.StartTLS},
		},
		{
			name:   "STARTTLS to the wrong name",
			server: serverOptions{user: testUser, pass: testPass, tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
			client: smtp.Config{TLS: smtp.StartTLS, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "mail.example.com"}},
		},
		{
			name:    "STARTTLS not offered",
			server:  serverOptions{user: testUser, pass: testPass, allowInsecureAuth: true},
			client:  smtp.Config{TLS: smtp.StartTLS, TLSConfig: &tls.Config{RootCAs: pool}},
			wantErr: smtp.ErrNoStartTLS,
		},
		{
			name:   "implicit TLS with an untrusted certificate",
			server: serverOptions{user: testUser, pass: testPass, tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, implicit: true},
			client: smtp.Config{TLS: smtp.Implicit, TLSConfig: &tls.Config{RootCAs: otherPool}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, be := startServer(t, tt.server)
			cfg := tt.client
			cfg.Host, cfg.Port = "127.0.0.1", port
			cfg.Username, cfg.Password, cfg.From = testUser, testPass, "noreply@example.com"
			m := newMailer(t, cfg)
			err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Subject: "Hi", Text: "text"})
			if err == nil {
				t.Fatalf("Send: got nil, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Send: got %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Errorf("got error %q, want it not to contain the password", err)
			}
			if auths := be.authAttempts(); len(auths) != 0 {
				t.Errorf("got %d auth attempts, want 0", len(auths))
			}
			if msgs := be.messages(); len(msgs) != 0 {
				t.Errorf("got %d messages, want 0", len(msgs))
			}
		})
	}
}

func TestSendAuthFailures(t *testing.T) {
	tests := []struct {
		name   string
		server serverOptions
	}{
		{"wrong password", serverOptions{user: testUser, pass: "another password", allowInsecureAuth: true}},
		{"AUTH not offered", serverOptions{allowInsecureAuth: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, be := startServer(t, tt.server)
			m := newMailer(t, smtp.Config{
				Host: "127.0.0.1", Port: port, TLS: smtp.None,
				Username: testUser, Password: testPass, From: "noreply@example.com",
			})
			if err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Text: "x"}); err == nil {
				t.Fatalf("Send: got nil, want an error")
			}
			if msgs := be.messages(); len(msgs) != 0 {
				t.Errorf("got %d messages, want 0", len(msgs))
			}
		})
	}
}

func TestSendServerNeverAnswers(t *testing.T) {
	t.Run("context deadline", func(t *testing.T) {
		port, _ := silentServer(t)
		m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None, From: "noreply@example.com"})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := m.Send(ctx, mail.Message{To: "jane@example.com", Text: "x"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send: got %v, want an error wrapping context.DeadlineExceeded", err)
		}
	})
	t.Run("Config.Timeout", func(t *testing.T) {
		port, _ := silentServer(t)
		m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None, From: "noreply@example.com", Timeout: 100 * time.Millisecond})
		err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Text: "x"})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Send: got %v, want an error wrapping os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		port, accepted := silentServer(t)
		m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None, From: "noreply@example.com"})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-accepted
			cancel()
		}()
		err := m.Send(ctx, mail.Message{To: "jane@example.com", Text: "x"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send: got %v, want an error wrapping context.Canceled", err)
		}
	})
	t.Run("implicit TLS handshake", func(t *testing.T) {
		port, _ := silentServer(t)
		m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.Implicit, From: "noreply@example.com"})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := m.Send(ctx, mail.Message{To: "jane@example.com", Text: "x"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send: got %v, want an error wrapping context.DeadlineExceeded", err)
		}
	})
}

func TestSendConnectionRefused(t *testing.T) {
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: closedPort(t), TLS: smtp.None, From: "noreply@example.com"})
	if err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Text: "x"}); err == nil {
		t.Errorf("Send: got nil, want an error")
	}
}

func TestSendHeaderInjection(t *testing.T) {
	tests := []struct {
		name string
		msg  mail.Message
	}{
		{"CRLF in To", mail.Message{To: "jane@example.com\r\nBcc: evil@example.com", From: "noreply@example.com"}},
		{"LF in To", mail.Message{To: "jane@example.com\nBcc: evil@example.com", From: "noreply@example.com"}},
		{"CR in To", mail.Message{To: "jane@example.com\rBcc: evil@example.com", From: "noreply@example.com"}},
		{"CRLF in From", mail.Message{To: "jane@example.com", From: "noreply@example.com\r\nBcc: evil@example.com"}},
		{"CRLF in a display name", mail.Message{To: "Jane\r\nBcc: evil@example.com <jane@example.com>", From: "noreply@example.com"}},
		{"CRLF in Subject", mail.Message{To: "jane@example.com", From: "noreply@example.com", Subject: "Hi\r\nBcc: evil@example.com"}},
		{"LF in Subject", mail.Message{To: "jane@example.com", From: "noreply@example.com", Subject: "Hi\nBcc: evil@example.com"}},
		{"CRLF in a non-ASCII Subject", mail.Message{To: "jane@example.com", From: "noreply@example.com", Subject: "Grüße\r\n\r\nfake body"}},
		{"NUL in Subject", mail.Message{To: "jane@example.com", From: "noreply@example.com", Subject: "Hi\x00"}},
	}
	port, be := startServer(t, serverOptions{})
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.Text = "body"
			if err := m.Send(t.Context(), tt.msg); !errors.Is(err, smtp.ErrHeaderInjection) {
				t.Errorf("Send: got %v, want ErrHeaderInjection", err)
			}
		})
	}
	if n := be.sessionCount(); n != 0 {
		t.Errorf("got %d sessions, want 0: nothing may be sent", n)
	}

	if _, err := smtp.New(smtp.Config{Host: "127.0.0.1", TLS: smtp.None, From: "noreply@example.com\r\nBcc: evil@example.com"}); !errors.Is(err, smtp.ErrHeaderInjection) {
		t.Errorf("New with CRLF in Config.From: got %v, want ErrHeaderInjection", err)
	}
}

func TestSendInvalidAddress(t *testing.T) {
	port, be := startServer(t, serverOptions{})
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, TLS: smtp.None, From: "noreply@example.com"})
	for _, to := range []string{"", "not an address", "a@b@c", "<jane@example.com"} {
		if err := m.Send(t.Context(), mail.Message{To: to, Text: "x"}); err == nil {
			t.Errorf("Send to %q: got nil, want an error", to)
		}
	}
	if n := be.sessionCount(); n != 0 {
		t.Errorf("got %d sessions, want 0", n)
	}
}

func TestSendConcurrent(t *testing.T) {
	port, be := startServer(t, serverOptions{user: testUser, pass: testPass, allowInsecureAuth: true})
	m := newMailer(t, smtp.Config{
		Host: "127.0.0.1", Port: port, TLS: smtp.None,
		Username: testUser, Password: testPass, From: "noreply@example.com",
	})
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := mail.Message{To: fmt.Sprintf("user%d@example.com", i), Subject: "Hi", Text: fmt.Sprint("body ", i), HTML: "<p>x</p>"}
			if err := m.Send(t.Context(), msg); err != nil {
				t.Errorf("Send %d: got %v, want nil", i, err)
			}
		})
	}
	wg.Wait()
	msgs := be.messages()
	if len(msgs) != n {
		t.Fatalf("got %d messages, want %d", len(msgs), n)
	}
	ids := map[string]bool{}
	for _, r := range msgs {
		p := parseReceived(t, r.data)
		want := "body " + strings.TrimSuffix(strings.TrimPrefix(r.to[0], "user"), "@example.com")
		if p.text != want {
			t.Errorf("got text %q for %s, want %q", p.text, r.to[0], want)
		}
		ids[p.header.Get("Message-ID")] = true
	}
	if len(ids) != n {
		t.Errorf("got %d distinct Message-IDs, want %d", len(ids), n)
	}
}

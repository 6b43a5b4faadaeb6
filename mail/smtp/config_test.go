package smtp_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/mail/smtp"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want smtp.Config
	}{
		{
			raw:  "smtp://user:pass@mail.example.com:587",
			want: smtp.Config{Host: "mail.example.com", Port: 587, Username: "user", Password: "pass", TLS: smtp.StartTLS},
		},
		{
			raw:  "smtp://mail.example.com",
			want: smtp.Config{Host: "mail.example.com", TLS: smtp.StartTLS},
		},
		{
			raw:  "smtps://user:pass@mail.example.com:465",
			want: smtp.Config{Host: "mail.example.com", Port: 465, Username: "user", Password: "pass", TLS: smtp.Implicit},
		},
		{
			raw:  "smtps://mail.example.com",
			want: smtp.Config{Host: "mail.example.com", TLS: smtp.Implicit},
		},
		{
			raw:  "smtp://localhost:25?tls=none",
			want: smtp.Config{Host: "localhost", Port: 25, TLS: smtp.None},
		},
		{
			raw:  "smtp://apikey%40example.com:p%40ss%3Aw%2Frd%20%C3%A9@mail.example.com:2525",
			want: smtp.Config{Host: "mail.example.com", Port: 2525, Username: "apikey@example.com", Password: "p@ss:w/rd é", TLS: smtp.StartTLS},
		},
		{
			raw:  "smtp://user@[::1]:1025?tls=None",
			want: smtp.Config{Host: "::1", Port: 1025, Username: "user", TLS: smtp.None},
		},
		{
			raw:  "smtp://mail.example.com:465?tls=implicit",
			want: smtp.Config{Host: "mail.example.com", Port: 465, TLS: smtp.Implicit},
		},
		{
			raw:  "smtps://mail.example.com:587?tls=starttls",
			want: smtp.Config{Host: "mail.example.com", Port: 587, TLS: smtp.StartTLS},
		},
		{
			raw: "smtp://relay.internal:25/?tls=none&allow_plaintext=true&from=noreply%40example.com&local_name=app.example.com&timeout=3s",
			want: smtp.Config{
				Host: "relay.internal", Port: 25, TLS: smtp.None, InsecureAllowPlaintext: true,
				From: "noreply@example.com", LocalName: "app.example.com", Timeout: 3 * time.Second,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := smtp.ParseURL(tt.raw)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "s3cr3t-Passw0rd"
	tests := []string{
		"",
		"mail.example.com:587",
		"http://mail.example.com",
		"smtp://",
		"smtp://user:pass@:587",
		"smtp://mail.example.com:0",
		"smtp://mail.example.com:70000",
		"smtp://mail.example.com?tls=maybe",
		"smtp://mail.example.com?tls=none&tls=none",
		"smtp://mail.example.com?allow_plaintext=perhaps",
		"smtp://mail.example.com?timeout=-1s",
		"smtp://mail.example.com?timeout=soon",
		"smtp://mail.example.com?port=25",
		"smtp://mail.example.com/path",
		"smtp://mail.example.com#frag",
		"smtp:opaque",
		// Unescaped special characters in the password.
		"smtp://user:" + secret + "/x@mail.example.com:587",
		"smtp://user:" + secret + "?x@mail.example.com:587",
		"smtp://user:" + secret + "#x@mail.example.com:587",
		"smtp://user:" + secret + "%zz@mail.example.com:587",
	}
	for _, raw := range tests {
		t.Run(raw, func(t *testing.T) {
			_, err := smtp.ParseURL(raw)
			if err == nil {
				t.Fatalf("got nil error, want an error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:6]) {
				t.Errorf("got error %q, want it not to repeat the password", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     smtp.Config
		wantErr bool
	}{
		{"StartTLS remote", smtp.Config{Host: "mail.example.com", Username: "u", Password: "p"}, false},
		{"Implicit remote", smtp.Config{Host: "mail.example.com", TLS: smtp.Implicit, Username: "u", Password: "p"}, false},
		{"None on localhost", smtp.Config{Host: "localhost", TLS: smtp.None, Username: "u", Password: "p"}, false},
		{"None on 127.0.0.1", smtp.Config{Host: "127.0.0.1", TLS: smtp.None}, false},
		{"None on ::1", smtp.Config{Host: "::1", TLS: smtp.None}, false},
		{"None on [::1]", smtp.Config{Host: "[::1]", TLS: smtp.None}, false},
		{"None remote refused", smtp.Config{Host: "mail.example.com", TLS: smtp.None}, true},
		{"None on a private address refused", smtp.Config{Host: "10.0.0.5", TLS: smtp.None}, true},
		{"None remote allowed explicitly", smtp.Config{Host: "relay.internal", TLS: smtp.None, InsecureAllowPlaintext: true}, false},
		{"None remote with credentials refused", smtp.Config{Host: "relay.internal", TLS: smtp.None, InsecureAllowPlaintext: true, Username: "u", Password: "p"}, true},
		{"missing host", smtp.Config{}, true},
		{"host with a path", smtp.Config{Host: "mail.example.com/x"}, true},
		{"host with CRLF", smtp.Config{Host: "mail.example.com\r\nX"}, true},
		{"negative port", smtp.Config{Host: "mail.example.com", Port: -1}, true},
		{"port too large", smtp.Config{Host: "mail.example.com", Port: 65536}, true},
		{"unknown TLS mode", smtp.Config{Host: "mail.example.com", TLS: smtp.TLSMode(42)}, true},
		{"negative timeout", smtp.Config{Host: "mail.example.com", Timeout: -time.Second}, true},
		{"bad From", smtp.Config{Host: "mail.example.com", From: "not an address"}, true},
		{"good From", smtp.Config{Host: "mail.example.com", From: "Acme <noreply@example.com>"}, false},
		{"password without user", smtp.Config{Host: "mail.example.com", Password: "p"}, true},
		{"NUL in password", smtp.Config{Host: "mail.example.com", Username: "u", Password: "p\x00q"}, true},
		{"LocalName with CRLF", smtp.Config{Host: "mail.example.com", LocalName: "a\r\nRSET"}, true},
		{"custom TLSConfig", smtp.Config{Host: "mail.example.com", TLSConfig: &tls.Config{ServerName: "smtp.example.com"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := smtp.New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Errorf("got nil error, want an error")
				}
				return
			}
			if err != nil || m == nil {
				t.Errorf("got %v, %v, want a Mailer and nil", m, err)
			}
		})
	}
}

// TestNewDoesNotAliasTLSConfig checks that New clones Config.TLSConfig, so
// that changing it afterwards cannot weaken the Mailer.
func TestNewDoesNotAliasTLSConfig(t *testing.T) {
	cert, _ := selfSigned(t)
	_, otherPool := selfSigned(t)
	port, be := startServer(t, serverOptions{tlsConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	tc := &tls.Config{RootCAs: otherPool}
	m := newMailer(t, smtp.Config{Host: "127.0.0.1", Port: port, From: "noreply@example.com", TLSConfig: tc})
	tc.InsecureSkipVerify = true
	if err := m.Send(t.Context(), mail.Message{To: "jane@example.com", Text: "x"}); err == nil {
		t.Errorf("Send: got nil, want a certificate error despite the later change to the TLS config")
	}
	if n := len(be.messages()); n != 0 {
		t.Errorf("got %d messages, want 0", n)
	}
}

func TestTLSModeString(t *testing.T) {
	for mode, want := range map[smtp.TLSMode]string{smtp.StartTLS: "starttls", smtp.Implicit: "implicit", smtp.None: "none", smtp.TLSMode(9): "TLSMode(9)"} {
		if got := mode.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

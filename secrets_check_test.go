package authsys_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys"
)

// TestSecretsFind proves the matcher behind the secrets check finds a
// secret wherever a careless log line would put it, and does not mistake a
// six-digit code for part of an ID or a timestamp.
func TestSecretsFind(t *testing.T) {
	const (
		pw     = "correct horse battery staple"
		jwt    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
		code   = "492039"
		backup = "7k3dq-x9mfa"
	)
	tests := []struct {
		name   string
		record string
		want   bool
	}{
		{"password as attribute", "INFO login password=" + pw, true},
		{"password inside an error", "WARN request failed error=bcrypt: " + pw + ": mismatch", true},
		{"token in a URL", "INFO mail link=https://app.example.com/v?uid=1&token=" + jwt, true},
		{"token glued to text", "INFO bearer" + jwt + "x", true},
		{"code alone", "INFO verify code=" + code, true},
		{"code in quotes", `INFO verify {"code":"` + code + `"}`, true},
		{"code at the end", "INFO " + code, true},
		{"backup code", "INFO used " + backup, true},
		{"normalized backup code", "INFO used 7k3dqx9mfa.", true},
		{"code inside a hex id", "INFO event user_id=a1" + code + "ff09", false},
		{"code inside a longer number", "INFO seq=1" + code, false},
		{"code after a dash", "INFO t=2026-" + code, false},
		{"no secret", "INFO security event event=login_succeeded reason=password", false},
	}
	c := &secretsCapture{secrets: map[string]bool{}} // not in the suite's sweep
	for _, s := range []string{pw, jwt, code, backup, "short"} {
		c.add(s)
	}
	var secrets []string
	for s := range c.secrets {
		secrets = append(secrets, s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secretsFind(secrets, []string{tt.record})
			if (len(got) > 0) != tt.want {
				t.Fatalf("got findings %q in %q, want found=%v", got, tt.record, tt.want)
			}
		})
	}
}

// TestSecretsCaptureCatchesLeak proves the capture wiring end to end: the
// secrets of real calls are recorded, and a record that leaks one of them
// through the env's logger (with attributes, groups and an error), or
// through an event, is found. The leaked records are then dropped so that
// the env's own check and the final sweep stay green.
func TestSecretsCaptureCatchesLeak(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("leak@example.com", goodPassword)
	c := e.loggedIn("leak@example.com", goodPassword)
	access := c.accessCookie()
	refresh := c.refreshCookie()
	if access == "" || refresh == "" {
		t.Fatal("login set no cookies")
	}
	log := e.cfg.Logger

	leaks := []struct {
		name   string
		secret string
		emit   func()
	}{
		{"password attribute", goodPassword, func() { log.Info("login", "password", goodPassword) }},
		{"access token in an error", access, func() { log.Error("failed", "error", errors.New("bad token "+access)) }},
		{"refresh token in a group", refresh, func() {
			log.WithGroup("req").Warn("refresh", slog.Group("cookie", "value", refresh))
		}},
		{"password in WithAttrs", goodPassword, func() { log.With("body", []byte(`{"password":"`+goodPassword+`"}`)).Debug("decoded") }},
		{"token in an event", access, func() { e.cfg.Hooks.OnEvent(authsys.Event{Kind: "login_succeeded", Reason: access}) }},
	}
	for _, l := range leaks {
		t.Run(l.name, func(t *testing.T) {
			e.capture.mu.Lock()
			before := len(e.capture.records)
			e.capture.mu.Unlock()
			l.emit()
			e.capture.mu.Lock()
			leaked := e.capture.records[before:]
			e.capture.records = e.capture.records[:before]
			secrets := make([]string, 0, len(e.capture.secrets))
			for s := range e.capture.secrets {
				secrets = append(secrets, s)
			}
			e.capture.mu.Unlock()
			found := secretsFind(secrets, leaked)
			if len(found) == 0 || !strings.Contains(strings.Join(found, "\n"), l.secret[:secretsMinLen]) {
				t.Fatalf("got findings %q in records %q, want the leaked secret", found, leaked)
			}
		})
	}
}

// TestSecretsConcurrentCapture records and logs from many goroutines at
// once: the capture must stay consistent under -race, and nothing the
// library logs during concurrent logins may carry their secrets.
func TestSecretsConcurrentCapture(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("many@example.com", goodPassword)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			c := e.client()
			for _, step := range []struct {
				path   string
				body   any
				status int
			}{
				{"/login/", map[string]string{"email": "many@example.com", "password": goodPassword}, http.StatusOK},
				{"/login/", map[string]string{"email": "many@example.com", "password": "wrong " + goodPassword}, http.StatusUnauthorized},
				{"/refresh/", nil, http.StatusOK},
			} {
				if r := c.post(step.path, step.body); r.StatusCode != step.status {
					t.Errorf("POST %s: got status %d, want %d; body %s", step.path, r.StatusCode, step.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	e.capture.mu.Lock()
	defer e.capture.mu.Unlock()
	if !e.capture.secrets["wrong "+goodPassword] || len(e.capture.records) == 0 {
		t.Fatalf("got %d secrets and %d records, want the wrong password recorded and records captured", len(e.capture.secrets), len(e.capture.records))
	}
}

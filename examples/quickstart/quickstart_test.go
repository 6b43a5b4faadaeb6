package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestREADMEQuickStart checks that the README's Quick start code block is
// this program, byte for byte.
func TestREADMEQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	block, err := quickStartBlock(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if block != string(prog) {
		a, b := strings.Split(block, "\n"), strings.Split(string(prog), "\n")
		for i := 0; i < min(len(a), len(b)); i++ {
			if a[i] != b[i] {
				t.Fatalf("README Quick start differs from examples/quickstart/main.go at line %d:\nREADME:  %q\nmain.go: %q", i+1, a[i], b[i])
			}
		}
		t.Fatalf("README Quick start has %d lines, examples/quickstart/main.go %d; they must be identical", len(a), len(b))
	}
}

// quickStartBlock returns the first ```go block after the "## Quick start"
// heading, without its fences.
func quickStartBlock(readme string) (string, error) {
	_, after, ok := strings.Cut(readme, "\n## Quick start\n")
	if !ok {
		return "", errorString("README.md has no \"## Quick start\" heading")
	}
	if next := strings.Index(after, "\n## "); next >= 0 {
		after = after[:next]
	}
	_, body, ok := strings.Cut(after, "\n```go\n")
	if !ok {
		return "", errorString("README.md's Quick start has no ```go block")
	}
	body, _, ok = strings.Cut(body, "\n```\n")
	if !ok {
		return "", errorString("README.md's Quick start ```go block is not closed")
	}
	return body + "\n", nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// syncBuffer is a bytes.Buffer safe for the console mailer's background
// writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun runs the program's server on a free port with a fresh SQLite file
// and goes through signup, verification, login and the protected route.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	var mails syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, ln, filepath.Join(t.TempDir(), "app.db"), key, true, &mails)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context ended")
		}
	})

	base := "http://" + ln.Addr().String()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	if code, body := call("GET", "/api/hello", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /api/hello before login: got %d %s, want 401", code, body)
	}
	const creds = `{"email":"ann@example.com","password":"correct horse battery"}`
	if code, body := call("POST", "/api/auth/signup/", creds); code != http.StatusCreated {
		t.Fatalf("signup: got %d %s, want 201", code, body)
	}
	if code, body := call("POST", "/api/auth/login/", creds); code != http.StatusForbidden {
		t.Fatalf("login before verification: got %d %s, want 403", code, body)
	}

	// The console mailer prints the verification link; the frontend page it
	// opens posts its uid and token to /verify-account/.
	link := waitForLink(t, &mails, "http://localhost:3000/verify-account?")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	verify, _ := json.Marshal(map[string]string{"uid": u.Query().Get("uid"), "token": u.Query().Get("token")})
	if code, body := call("POST", "/api/auth/verify-account/", string(verify)); code != http.StatusOK {
		t.Fatalf("verify-account: got %d %s, want 200", code, body)
	}
	if code, body := call("POST", "/api/auth/login/", creds); code != http.StatusOK || !strings.Contains(body, `"requires_2fa":false`) {
		t.Fatalf("login: got %d %s, want 200 without 2FA", code, body)
	}
	if code, body := call("GET", "/api/hello", ""); code != http.StatusOK || body != "hello, ann@example.com\n" {
		t.Fatalf("GET /api/hello: got %d %q, want 200 %q", code, body, "hello, ann@example.com\n")
	}
	if code, body := call("POST", "/api/auth/logout/", ""); code != http.StatusOK {
		t.Fatalf("logout: got %d %s, want 200", code, body)
	}
	if code, body := call("GET", "/api/hello", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /api/hello after logout: got %d %s, want 401", code, body)
	}
}

// waitForLink waits for the console mailer to print a link starting with
// prefix and returns it.
func waitForLink(t *testing.T, mails *syncBuffer, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.Lines(mails.String()) {
			if link, ok := strings.CutPrefix(strings.TrimSpace(line), "Link: "); ok && strings.HasPrefix(link, prefix) {
				return link
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no mail with a link starting %q; mails:\n%s", prefix, mails.String())
	return ""
}

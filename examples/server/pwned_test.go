package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunPwned runs the server with -pwned against a local fake of the
// Pwned Passwords range API: a signup with a password the API knows is
// refused with password_breached, another one is accepted; without
// -pwned the API is never asked.
func TestRunPwned(t *testing.T) {
	const breached = "tangerine kayak 88"
	sum := sha1.Sum([]byte(breached))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	var requests atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprintf(w, "%035X:3\r\n", 1)
		if r.URL.Path == "/range/"+hash[:5] {
			fmt.Fprintf(w, "%s:7\r\n", hash[5:])
		}
	}))
	defer api.Close()

	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("pwned=%v", on), func(t *testing.T) {
			dir := t.TempDir()
			args := append(srvLocalFlags(dir), "-db", filepath.Join(dir, "authsys.db"), "-pwned-url", api.URL)
			if on {
				args = append(args, "-pwned")
			}
			s := srvStart(t, args...)
			c := newSrvClient(t)
			before := requests.Load()
			status, body := c.do(http.MethodPost, s.url+"/api/auth/signup/", map[string]string{"email": "bob@example.com", "password": breached})
			if on && (status != http.StatusBadRequest || !strings.Contains(body, `"code":"password_breached"`)) {
				t.Errorf("breached password: got %d %s, want 400 with password_breached", status, body)
			}
			if !on && status != http.StatusCreated {
				t.Errorf("breached password without -pwned: got %d %s, want 201", status, body)
			}
			c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/", srvCreds)
			want := int64(0)
			if on {
				want = 2
			}
			if got := requests.Load() - before; got != want {
				t.Errorf("got %d requests to the API, want %d", got, want)
			}
		})
	}
}

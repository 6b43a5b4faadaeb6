package authsys_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
)

// TestRateLimitUnixSocketProxy serves the API on a real Unix socket, as
// behind a reverse proxy connected that way, where requests carry no
// client IP of their own. With "unix" in TrustedProxies, X-Forwarded-For
// names the client and each has its own budget; without it, there is no
// IP budget at all (only the accounts'), rather than one budget shared by
// every client, which one of them could exhaust for all.
func TestRateLimitUnixSocketProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		xff     func(i int) string
		limited int // requests refused out of 6
	}{
		{"unix trusted, one client", []string{"unix"}, func(int) string { return "203.0.113.7" }, 3},
		{"unix trusted, six clients", []string{"unix"}, func(i int) string { return rlIP(i) }, 0},
		{"unix not trusted", nil, func(i int) string { return rlIP(i) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *authsys.Config) {
				c.RateLimits = testLimits(map[string]string{limitLogin: "3/min"})
				c.HTTP.TrustedProxies = tc.trusted
			})
			sock := filepath.Join(t.TempDir(), "auth.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: e.srv.Config.Handler}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
			limited := 0
			for i := range 6 {
				body := fmt.Sprintf(`{"email":"u%d@example.com","password":"not the password"}`, i)
				req, _ := http.NewRequest(http.MethodPost, "http://unix/api/auth/login/", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", tc.xff(i))
				res, _, err := e.harnessSend(hc, req, []byte(body))
				if err != nil {
					t.Fatal(err)
				}
				switch res.StatusCode {
				case http.StatusTooManyRequests:
					limited++
				case http.StatusUnauthorized:
				default:
					t.Fatalf("login %d: got %d, want 401 or 429", i, res.StatusCode)
				}
			}
			if limited != tc.limited {
				t.Errorf("got %d of 6 logins throttled, want %d", limited, tc.limited)
			}
		})
	}
}

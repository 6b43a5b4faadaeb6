package authsys_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/redis"
)

// bkCluster is three Auth instances (A, B, C), each behind its own
// httptest server with its own connections, sharing one PostgreSQL schema
// for users and one Redis key prefix (or the same PostgreSQL schema) for
// pending state, one mail outbox and one fake clock.
type bkCluster struct {
	t       *testing.T
	nodes   []*env
	clock   *clock
	outbox  *mail.Outbox
	users   authsys.UserStore
	pending string // "redis" or "postgres"
}

// bkNewCluster starts the three instances; pending names the shared
// PendingStore. It skips the test without the services it needs.
func bkNewCluster(t *testing.T, pending string, mutate ...func(*authsys.Config)) *bkCluster {
	t.Helper()
	direct := bkPostgresPool(t, "")
	schema := bkPostgresSchema(t, direct)
	var prefix string
	if pending == "redis" {
		prefix = bkRedisPrefix(t)
	}
	cl := &bkCluster{t: t, clock: newClock(), outbox: &mail.Outbox{}, pending: pending}
	for range 3 {
		users := postgres.New(bkPostgresPool(t, ""), postgres.WithSchema(schema))
		var ps authsys.PendingStore = users
		if pending == "redis" {
			ps = redis.New(bkRedisClient(t, ""), redis.WithPrefix(prefix))
		}
		cl.nodes = append(cl.nodes, newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) {
			c.Users = users
			c.Pending = ps
			c.Mailer = cl.outbox
			c.Now = cl.clock.Now
		}}, mutate...)...))
	}
	cl.users = postgres.New(direct, postgres.WithSchema(schema))
	return cl
}

// on returns a client of node i carrying the given cookies.
func (cl *bkCluster) on(i int, access, refresh string) *client {
	c := cl.nodes[i].client()
	if access != "" {
		c.setCookie("access_token", access, "/")
	}
	if refresh != "" {
		c.setCookie("refresh_token", refresh, "/api/auth/")
	}
	return c
}

// mail waits for every node's background sends and returns the last
// message to addr.
func (cl *bkCluster) mail(to string) mail.Message {
	cl.t.Helper()
	for _, n := range cl.nodes {
		if err := n.auth.Shutdown(cl.t.Context()); err != nil {
			cl.t.Fatal(err)
		}
	}
	m, ok := cl.outbox.Last(to)
	if !ok {
		cl.t.Fatalf("no mail to %s", to)
	}
	return m
}

// login2FA logs in with password on node a and with a fresh TOTP code on
// node b, and returns b's client holding the new cookies.
func (cl *bkCluster) login2FA(a, b int, email, password, secret string) *client {
	t := cl.t
	t.Helper()
	r := cl.nodes[a].client().post("/login/", map[string]string{"email": email, "password": password})
	expect(t, r, http.StatusOK, "")
	token, _ := r.json(t)["session_token"].(string)
	if token == "" {
		t.Fatalf("login on node %d: got %s, want requires_2fa with a session token", a, r.body)
	}
	cl.clock.Advance(30 * time.Second)
	c := cl.nodes[b].client()
	expect(t, c.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": bkCode(t, secret, cl.clock.Now())}), http.StatusOK, "")
	return c
}

// bkPendingBackends are the shared pending stores the cluster tests run on.
var bkPendingBackends = []string{"redis", "postgres"}

// TestBackendsSeveralInstances runs the account lifecycle across three
// instances sharing their stores: whatever instance a request reaches, it
// sees what the others did.
func TestBackendsSeveralInstances(t *testing.T) {
	for _, pending := range bkPendingBackends {
		t.Run("pending="+pending, func(t *testing.T) {
			t.Parallel()
			cl := bkNewCluster(t, pending)
			const (
				A, B, C = 0, 1, 2
				email   = "alice@example.com"
			)

			// Sign up on A, verify on B, set up 2FA on C.
			expect(t, cl.nodes[A].client().post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
			q := linkParams(t, cl.mail(email))
			expect(t, cl.nodes[B].client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
			first := cl.nodes[A].loggedIn(email, goodPassword)
			secret := bkEnable2FA(t, cl.nodes[C], cl.on(C, first.accessCookie(), ""), cl.clock)

			// Login on A, verify-login (2FA) on B, refresh on C, logout on A.
			b := cl.login2FA(A, B, email, goodPassword, secret)
			refreshB := b.refreshCookie()
			c := cl.on(C, b.accessCookie(), refreshB)
			expect(t, c.post("/refresh/", nil), http.StatusOK, "")
			refreshC := c.refreshCookie()
			if refreshC == "" || refreshC == refreshB {
				t.Fatalf("refresh on C did not rotate the refresh token")
			}
			expect(t, cl.on(A, c.accessCookie(), refreshC).post("/logout/", nil), http.StatusOK, "")
			for _, node := range []int{B, C} {
				for name, rt := range map[string]string{"the logged-out": refreshC, "the rotated": refreshB} {
					r := cl.on(node, "", rt).post("/refresh/", nil)
					if r.StatusCode != http.StatusUnauthorized {
						t.Errorf("%s refresh token on node %d after logout on A: got status %d, want 401; body %s", name, node, r.StatusCode, r.body)
					}
				}
			}

			// A password change on B: the old access cookie is refused on
			// A and C; B's new cookies work everywhere.
			b = cl.login2FA(C, A, email, goodPassword, secret)
			old := b.accessCookie()
			changer := cl.on(B, old, b.refreshCookie())
			expect(t, changer.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), http.StatusOK, "")
			fresh := changer.accessCookie()
			if fresh == "" || fresh == old {
				t.Fatalf("change-password on B set no new access cookie")
			}
			for _, node := range []int{A, C} {
				expect(t, cl.on(node, old, "").get("/me/"), http.StatusUnauthorized, "invalid_token")
				expect(t, cl.on(node, old, "").do(http.MethodGet, "/api/private", nil), http.StatusUnauthorized, "invalid_token")
				expect(t, cl.on(node, fresh, "").get("/me/"), http.StatusOK, "")
			}
			expect(t, cl.nodes[C].client().post("/login/", map[string]string{"email": email, "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
			cl.login2FA(A, C, email, "a new long passphrase", secret)
		})
	}
}

// TestBackendsInstancesShareRateLimits proves that the rate limits count
// across instances through the shared pending store: four failed logins
// spread over A, B and C exhaust a 4/min budget for all of them.
func TestBackendsInstancesShareRateLimits(t *testing.T) {
	for _, pending := range bkPendingBackends {
		t.Run("pending="+pending, func(t *testing.T) {
			t.Parallel()
			cl := bkNewCluster(t, pending, func(c *authsys.Config) {
				c.RateLimits = testLimits(map[string]string{limitLogin: "4/min"})
			})
			wrong := map[string]string{"email": "bob@example.com", "password": "not the password"}
			for _, node := range []int{0, 1, 2, 0} {
				expect(t, cl.nodes[node].client().post("/login/", wrong), http.StatusUnauthorized, "invalid_credentials")
			}
			for _, node := range []int{1, 2} {
				r := cl.nodes[node].client().post("/login/", wrong)
				expect(t, r, http.StatusTooManyRequests, "throttled")
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("node %d: 429 without Retry-After", node)
				}
			}
		})
	}
}

// TestBackendsInstancesRaceOneSession races the same 2FA session and code
// on all three instances at once: exactly one request logs in. Then the
// same refresh token is raced across the instances: within the reuse grace
// all get the same successor, and a reuse after the grace revokes the
// session on every instance.
func TestBackendsInstancesRaceOneSession(t *testing.T) {
	for _, pending := range bkPendingBackends {
		t.Run("pending="+pending, func(t *testing.T) {
			t.Parallel()
			cl := bkNewCluster(t, pending)
			const email = "alice@example.com"
			n := cl.nodes[0]
			expect(t, n.client().post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
			q := linkParams(t, cl.mail(email))
			expect(t, n.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
			secret := bkEnable2FA(t, n, n.loggedIn(email, goodPassword), cl.clock)

			r := n.client().post("/login/", map[string]string{"email": email, "password": goodPassword})
			expect(t, r, http.StatusOK, "")
			token, _ := r.json(t)["session_token"].(string)
			cl.clock.Advance(30 * time.Second)
			body := map[string]string{"session_token": token, "code": bkCode(t, secret, cl.clock.Now())}
			const perNode = 4
			clients := make([]*client, 0, 3*perNode)
			for i := range 3 * perNode {
				clients = append(clients, cl.nodes[i%3].client())
			}
			statuses := bkRace(t, clients, "/api/auth/2fa/verify-login/", body)
			var winner *client
			for i, s := range statuses {
				if s == http.StatusOK {
					if winner != nil {
						t.Errorf("two requests logged in with one session and code")
					}
					winner = clients[i]
				}
			}
			if winner == nil {
				t.Fatalf("no request logged in; statuses %v", statuses)
			}

			// Concurrent refreshes of one token on every instance, within
			// the grace: all succeed with the same successor.
			rt := winner.refreshCookie()
			clients = clients[:0]
			for i := range 3 * perNode {
				clients = append(clients, cl.on(i%3, "", rt))
			}
			statuses = bkRace(t, clients, "/api/auth/refresh/", nil)
			succ := map[string]bool{}
			for i, s := range statuses {
				if s != http.StatusOK {
					t.Errorf("refresh %d within the grace: got status %d, want 200", i, s)
				}
				succ[clients[i].refreshCookie()] = true
			}
			if len(succ) != 1 {
				t.Errorf("concurrent refreshes got %d different successors, want 1", len(succ))
			}
			var next string
			for s := range succ {
				next = s
			}
			// After the grace, a reuse of the old token revokes the whole
			// session, on every instance.
			cl.clock.Advance(time.Minute)
			expect(t, cl.on(2, "", rt).post("/refresh/", nil), http.StatusUnauthorized, "token_reused")
			for i := range 3 {
				r := cl.on(i, "", next).post("/refresh/", nil)
				if r.StatusCode != http.StatusUnauthorized {
					t.Errorf("successor on node %d after a reuse: got status %d, want 401", i, r.StatusCode)
				}
			}
		})
	}
}

// bkRace posts body (JSON, or nothing when nil) to path from every client
// at once and returns the statuses. It is safe to call from the test
// goroutine only; the requests never call t.Fatal.
func bkRace(t *testing.T, clients []*client, path string, body any) []int {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	statuses := make([]int, len(clients))
	errs := make([]error, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.e.srv.URL+path, bytes.NewReader(raw))
			if err != nil {
				errs[i] = err
				return
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			<-start
			res, _, err := c.e.harnessSend(c.hc, req, raw)
			if err != nil {
				errs[i] = err
				return
			}
			statuses[i] = res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return statuses
}

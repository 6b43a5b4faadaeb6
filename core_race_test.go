package authsys_test

// Racing goroutines against refresh rotation, reset confirmation and
// signup.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

// coreParallel runs fn(i) for i in [0, n) on n goroutines released at once
// and returns the responses in order.
func coreParallel(n int, fn func(i int) response) []response {
	out := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

func TestCoreRefreshRace(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	e.clock.Advance(2 * time.Second)

	const n = 50
	refresh := func(tok string) response {
		return coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", tok))
	}
	rs := coreParallel(n, func(int) response { return refresh(parent) })
	var successor string
	for i, r := range rs {
		if r.StatusCode != http.StatusOK {
			t.Fatalf("refresh %d: got %d %s, want 200 for every use inside the grace", i, r.StatusCode, r.body)
		}
		ck := coreSetCookie(r, "refresh_token")
		if ck == nil || ck.Value == "" {
			t.Fatalf("refresh %d: got no refresh cookie", i)
		}
		if successor == "" {
			successor = ck.Value
		}
		if ck.Value != successor {
			t.Fatalf("refresh %d: got successor %.20s…, want the same successor %.20s… for every caller", i, ck.Value, successor)
		}
		if a := coreSetCookie(r, "access_token"); a == nil || a.Value == "" {
			t.Fatalf("refresh %d: got no access cookie", i)
		}
	}
	if successor == parent {
		t.Fatal("got the parent back as its own successor")
	}
	// Still inside the grace, a late tab gets the same successor too.
	e.clock.Advance(9 * time.Second)
	if got := coreSetCookie(refresh(parent), "refresh_token"); got == nil || got.Value != successor {
		t.Fatalf("got %v at the end of the grace, want the same successor", got)
	}
	// The successor rotates on; the chain grows.
	r := refresh(successor)
	expect(t, r, http.StatusOK, "")
	newest := coreSetCookie(r, "refresh_token").Value
	r = refresh(newest)
	expect(t, r, http.StatusOK, "")
	newest = coreSetCookie(r, "refresh_token").Value

	// After the grace the parent is a replay: refused, and the whole
	// family dies, the newest token included.
	e.clock.Advance(2 * time.Second)
	r = refresh(parent)
	expect(t, r, http.StatusUnauthorized, "token_reused")
	if ck := coreSetCookie(r, "refresh_token"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("got refresh cookie %v on a replay, want it cleared", ck)
	}
	if !e.events.has("refresh_token_reuse") {
		t.Errorf("got events %v, want refresh_token_reuse", e.events.kinds())
	}
	for name, tok := range map[string]string{"successor": successor, "newest": newest, "parent again": parent} {
		r := refresh(tok)
		if r.StatusCode != http.StatusUnauthorized || (r.code() != "invalid_token" && r.code() != "token_reused") {
			t.Errorf("%s after the replay: got %d %s, want 401 invalid_token", name, r.StatusCode, r.body)
		}
	}
	// Another login of the same user is another family and lives on.
	other := e.loggedIn("user@example.com", goodPassword)
	expect(t, other.post("/refresh/", nil), http.StatusOK, "")
}

func TestCoreRefreshReplayAfterGraceRace(t *testing.T) {
	// Many replays after the grace, racing: every one refused, none 500.
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	e.clock.Advance(11 * time.Second)
	rs := coreParallel(20, func(int) response {
		return coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", parent))
	})
	for i, r := range rs {
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replay %d: got %d %s, want 401", i, r.StatusCode, r.body)
		}
	}
	expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

func TestCoreRefreshWithoutGrace(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) { c.Sessions.RefreshReuseGrace = -1 })
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	parent := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	// Same instant of the fake clock: still a replay.
	r := coreRaw(e, http.MethodPost, "/api/auth/refresh/", nil, "Cookie", coreCookieHeader("refresh_token", parent))
	expect(t, r, http.StatusUnauthorized, "token_reused")
	expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
}

func TestCoreRefreshRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *env, c *client)
		code   string
	}{
		{"deactivated user", func(e *env, c *client) {
			coreSetUser(e, "user@example.com", func(u *authsys.User) { u.IsActive = false })
		}, "account_inactive"},
		{"token version bumped", func(e *env, c *client) {
			// As an admin's "revoke sessions" does.
			coreSetUser(e, "user@example.com", func(u *authsys.User) { u.TokenVersion++ })
		}, "invalid_token"},
		{"after logout", func(e *env, c *client) {
			x := e.client()
			x.setCookie("access_token", c.accessCookie(), "/")
			x.setCookie("refresh_token", c.refreshCookie(), "/api/auth/")
			expect(e.t, x.post("/logout/", nil), http.StatusOK, "")
		}, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.signupVerified("user@example.com", goodPassword)
			c := e.loggedIn("user@example.com", goodPassword)
			tc.change(e, c)
			r := c.post("/refresh/", nil)
			expect(t, r, http.StatusUnauthorized, tc.code)
			if c.accessCookie() != "" || c.refreshCookie() != "" {
				t.Error("a refused refresh left cookies, want them cleared")
			}
		})
	}
}

// coreOneWinner checks that exactly one of rs is 200 and every other is
// 400 invalid_token, and returns the winner's index.
func coreOneWinner(t *testing.T, rs []response) int {
	t.Helper()
	winner := -1
	for i, r := range rs {
		switch {
		case r.StatusCode == http.StatusOK && winner == -1:
			winner = i
		case r.StatusCode == http.StatusOK:
			t.Fatalf("requests %d and %d both got 200, want exactly one", winner, i)
		case r.StatusCode != http.StatusBadRequest || r.code() != "invalid_token":
			t.Fatalf("request %d: got %d %s, want 400 invalid_token for a loser", i, r.StatusCode, r.body)
		}
	}
	if winner == -1 {
		t.Fatal("got no 200, want exactly one")
	}
	return winner
}

func TestCoreResetConfirmRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "user@example.com"}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "user@example.com", mail.KindPasswordReset))
	tv := coreUser(e, "user@example.com").TokenVersion

	const n = 20
	pw := func(i int) string { return fmt.Sprintf("racing passphrase number %02d", i) }
	// Every confirm checks the token and hashes before any writes: only
	// the check made again inside UpdateUser can stop the losers.
	spy.barrier.Store(newCoreBarrier(n))
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw(i)})
	})
	spy.barrier.Store(nil)
	winner := coreOneWinner(t, rs)
	if got := coreUser(e, "user@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d (one reset)", got, tv+1)
	}
	for i := range n {
		r := e.client().post("/login/", map[string]string{"email": "user@example.com", "password": pw(i)})
		want := http.StatusUnauthorized
		if i == winner {
			want = http.StatusOK
		}
		if r.StatusCode != want {
			t.Errorf("login with password %d: got %d, want %d (winner %d)", i, r.StatusCode, want, winner)
		}
	}
}

func TestCoreVerifyRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	expect(t, e.client().post("/signup/", map[string]string{"email": "user@example.com", "password": goodPassword}), http.StatusCreated, "")
	q := linkParams(t, coreLastMail(e, "user@example.com", mail.KindVerifyAccount))
	const n = 20
	spy.barrier.Store(newCoreBarrier(n))
	rs := coreParallel(n, func(int) response {
		return e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	})
	spy.barrier.Store(nil)
	coreOneWinner(t, rs)
	if got := coreMails(e, "", ""); len(got) != 0 {
		t.Errorf("got %d mails to nobody", len(got))
	}
	if n := strings.Count(strings.Join(e.events.kinds(), ","), "account_verified"); n != 1 {
		t.Errorf("got %d account_verified events, want 1", n)
	}
}

func TestCoreChangeEmailConfirmRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	expect(t, c.post("/change-email/", map[string]string{"new_email": "new@example.com", "password": goodPassword}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "new@example.com", mail.KindEmailChangeConfirm))
	tv := coreUser(e, "user@example.com").TokenVersion
	notices := len(coreMails(e, "user@example.com", mail.KindEmailChangedNotice))
	const n = 20
	spy.barrier.Store(newCoreBarrier(n))
	rs := coreParallel(n, func(int) response {
		return e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")})
	})
	spy.barrier.Store(nil)
	coreOneWinner(t, rs)
	if got := coreUser(e, "new@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d (one change)", got, tv+1)
	}
	if got := len(coreMails(e, "user@example.com", mail.KindEmailChangedNotice)); got != notices+1 {
		t.Errorf("got %d change notices, want 1", got-notices)
	}
}

func TestCoreSignupRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	const n = 20
	spy.barrier.Store(newCoreBarrier(n)) // every CreateUser at once
	defer spy.barrier.Store(nil)
	variants := []string{"race@example.com", "RACE@example.com", "Race@Example.Com", " race@EXAMPLE.com "}
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/signup/", map[string]string{"email": variants[i%len(variants)], "password": fmt.Sprintf("signup passphrase %02d", i)})
	})
	for i, r := range rs {
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("signup %d: got %d %s, want 201", i, r.StatusCode, r.body)
		}
		coreSameAnswer(t, fmt.Sprintf("signup %d vs 0", i), r, rs[0])
	}
	us, err := e.store.ListUsers(t.Context(), "race", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].Email != "race@example.com" {
		t.Fatalf("got users %v, want exactly one race@example.com", us)
	}
	// Every racer's mail is a verification mail (the account is not
	// verified); each link verifies the one account.
	ms := coreMails(e, "race@example.com", mail.KindVerifyAccount)
	if len(ms) != n {
		t.Errorf("got %d verification mails, want %d", len(ms), n)
	}
	for _, m := range ms {
		if q := linkParams(t, m); q.Get("uid") != us[0].ID {
			t.Fatalf("got a link for uid %s, want %s", q.Get("uid"), us[0].ID)
		}
	}
	if strings.Contains(strings.Join(e.events.kinds(), ","), "mail_failed") {
		t.Error("a mail failed")
	}
}

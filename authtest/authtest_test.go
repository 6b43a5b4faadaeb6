package authtest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

const password = "correct horse battery staple"

func TestClock(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := authtest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("got %v, want %v", got, start)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("after ten concurrent Advance(1s): got %v, want %v", got, want)
	}
	c.Advance(-time.Minute)
	if got, want := c.Now(), start.Add(-50*time.Second); !got.Equal(want) {
		t.Errorf("after Advance(-1m): got %v, want %v", got, want)
	}
}

func TestSpyRecordsAndPassesThrough(t *testing.T) {
	m := memory.New()
	spy := authtest.NewSpy(m, m)
	ctx := t.Context()
	u, err := spy.CreateUser(ctx, store.User{Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spy.UserByEmail(ctx, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := spy.UserByID(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(unknown): got %v, want ErrNotFound", err)
	}
	if err := spy.PutPending(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := m.GetPending(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("the wrapped store holds %q, %v; want \"v\"", v, err)
	}
	if ok, _, err := spy.AllowRate(ctx, "r", time.Second, 1); !ok || err != nil {
		t.Errorf("AllowRate: got %t, %v; want true, nil", ok, err)
	}
	if us, err := spy.ListUsers(ctx, "", "", 10); err != nil || len(us) != 1 {
		t.Errorf("ListUsers: got %d users, %v; want 1", len(us), err)
	}
	want := []authtest.Call{
		{Method: "CreateUser", Key: "a@example.com"},
		{Method: "UserByEmail", Key: "a@example.com"},
		{Method: "UserByID", Key: "nobody", Err: store.ErrNotFound},
		{Method: "PutPending", Key: "k", Value: []byte("v"), TTL: time.Minute},
		{Method: "AllowRate", Key: "r", TTL: time.Second},
		{Method: "ListUsers"},
	}
	got := spy.Calls()
	if len(got) != len(want) {
		t.Fatalf("got %d calls %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Key != w.Key || string(g.Value) != string(w.Value) || g.TTL != w.TTL || !errors.Is(g.Err, w.Err) || (w.Err == nil) != (g.Err == nil) || g.Update != nil {
			t.Errorf("call %d: got %+v, want %+v", i, g, w)
		}
	}
	spy.Reset()
	if _, err := spy.UpdateUser(ctx, u.ID, func(u *store.User) error { u.IsStaff = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := spy.Calls(); len(got) != 1 || got[0].Method != "UpdateUser" || got[0].Key != u.ID {
		t.Errorf("after Reset: got calls %+v, want one UpdateUser", got)
	}
}

func TestSpyHook(t *testing.T) {
	m := memory.New()
	spy := authtest.NewSpy(m, m)
	ctx := t.Context()
	u, err := spy.CreateUser(ctx, store.User{Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	outage := errors.Join(store.ErrUnavailable, errors.New("injected"))
	spy.SetHook(func(ctx context.Context, c *authtest.Call) error {
		if c.Method == "GetPending" {
			return outage
		}
		if c.Method == "UpdateUser" {
			next := c.Update
			c.Update = func(u *store.User) error {
				if err := next(u); err != nil {
					return err
				}
				return outage // a lost commit: the function ran, nothing is written
			}
		}
		return nil
	})
	if _, err := spy.GetPending(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetPending with a failing hook: got %v, want ErrUnavailable", err)
	}
	ran := false
	if _, err := spy.UpdateUser(ctx, u.ID, func(u *store.User) error { ran = true; u.IsStaff = true; return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateUser with a lost commit: got %v, want ErrUnavailable", err)
	}
	if got, _ := m.UserByID(ctx, u.ID); !ran || got.IsStaff {
		t.Errorf("lost commit: fn ran %t, stored IsStaff %t; want true, false", ran, got.IsStaff)
	}
	calls := spy.Calls()
	if last := calls[len(calls)-1]; !errors.Is(last.Err, store.ErrUnavailable) {
		t.Errorf("the recorded call has Err %v, want the injected error", last.Err)
	}
	spy.SetHook(nil)
	if _, err := spy.GetPending(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPending without the hook: got %v, want ErrNotFound", err)
	}
}

// plainUsers is a UserStore without store.UserLister.
type plainUsers struct{ store.UserStore }

// plainPending is a PendingStore without store.RateStore.
type plainPending struct{ store.PendingStore }

func TestSpyMissingCapabilities(t *testing.T) {
	m := memory.New()
	spy := authtest.NewSpy(plainUsers{m}, plainPending{m})
	if _, err := spy.ListUsers(t.Context(), "", "", 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ListUsers: got %v, want ErrUnsupported", err)
	}
	if _, _, err := spy.AllowRate(t.Context(), "k", time.Second, 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("AllowRate: got %v, want ErrUnsupported", err)
	}
}

func TestEnvLoginAndRoutes(t *testing.T) {
	env := authtest.New(t)
	env.Mux.Handle("GET /api/private", env.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := authsys.UserFromContext(r.Context()); !ok {
			t.Error("no user in the context of a protected route")
		}
	})))
	c := env.Login(t, "alice@example.com", password)
	for _, tc := range []struct {
		name   string
		client *http.Client
		path   string
		want   int
	}{
		{"protected route", c, "/api/private", http.StatusOK},
		{"me", c, "/api/auth/me/", http.StatusOK},
		{"protected route without a session", env.Client(), "/api/private", http.StatusUnauthorized},
		{"admin API for a non-staff user", c, "/api/admin/auth/users/", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.client.Get(env.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("got status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	// A second Login of the same account logs in without signing up again.
	env.Login(t, "alice@example.com", password)
	kinds := map[string]int{}
	for _, ev := range env.Events() {
		kinds[ev.Kind]++
	}
	if kinds[authsys.EventSignup] != 1 || kinds[authsys.EventAccountVerified] != 1 || kinds[authsys.EventLoginSucceeded] != 2 {
		t.Errorf("got events %v, want one signup, one verification and two logins", kinds)
	}
	if u, err := env.Store.UserByEmail(t.Context(), "alice@example.com"); err != nil || !u.IsActive {
		t.Errorf("the account in Store: active %t, err %v; want an active account", u.IsActive, err)
	}
}

func TestEnvDefaults(t *testing.T) {
	var (
		mu   sync.Mutex
		seen int
	)
	env := authtest.New(t, func(c *authsys.Config) {
		c.Hooks.OnEvent = func(authsys.Event) { mu.Lock(); seen++; mu.Unlock() }
	})
	if got := env.Config.Now(); !got.Equal(env.Clock.Now()) {
		t.Errorf("Config.Now: got %v, want the Clock's %v", got, env.Clock.Now())
	}
	if env.Config.Users != env.Store || env.Config.Pending != env.Store || env.Config.Mailer != env.Outbox {
		t.Error("the Config does not use the Env's Store and Outbox")
	}
	if p := env.Config.Passwords.Params; p == (authsys.PasswordParams{}) || p == authsys.DefaultPasswordParams() {
		t.Errorf("got password params %+v, want cheap ones", p)
	}
	// Rate limits are on, as in production: a sixth signup from one
	// client within a minute is refused.
	c := env.Client()
	for i := range 6 {
		res, err := c.Post(env.URL+"/api/auth/signup/", "application/json",
			jsonBody(`{"email": "user`+string(rune('a'+i))+`@example.com", "password": "`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := http.StatusCreated
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if res.StatusCode != want {
			t.Errorf("signup %d: got status %d, want %d", i+1, res.StatusCode, want)
		}
	}
	if err := env.Auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := env.Outbox.Len(); n != 5 {
		t.Errorf("got %d mails in the Outbox, want 5", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen == 0 || seen != len(env.Events()) {
		t.Errorf("the mutation's OnEvent got %d events, Events %d; want the same, more than none", seen, len(env.Events()))
	}
}

func jsonBody(s string) *strings.Reader { return strings.NewReader(s) }

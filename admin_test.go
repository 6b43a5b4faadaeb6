package authsys_test

// The admin API and Auth.AdminAction: listing, actions, deactivation and
// their events.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/totp"
)

const (
	adminEmail  = "admin@example.com"
	targetEmail = "target@example.com"
)

// adminEnv returns an env with a logged-in staff client and the staff user.
func adminEnv(t *testing.T, mutate ...func(*authsys.Config)) (*env, *client, authsys.User) {
	t.Helper()
	e := newEnv(t, mutate...)
	e.signupVerified(adminEmail, goodPassword)
	admin := adminSetUser(e, adminEmail, func(u *authsys.User) { u.IsStaff = true })
	return e, e.loggedIn(adminEmail, goodPassword), admin
}

// adminUserByEmail reads a user straight from the store.
func adminUserByEmail(e *env, email string) authsys.User {
	e.t.Helper()
	u, err := e.store.UserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatalf("UserByEmail(%s): %v", email, err)
	}
	return u
}

// adminSetUser changes a user straight in the store.
func adminSetUser(e *env, email string, fn func(*authsys.User)) authsys.User {
	e.t.Helper()
	u, err := e.store.UpdateUser(e.t.Context(), adminUserByEmail(e, email).ID, func(u *authsys.User) error { fn(u); return nil })
	if err != nil {
		e.t.Fatalf("UpdateUser(%s): %v", email, err)
	}
	e.dropCache()
	return u
}

// adminDo calls the admin API mounted at /api/admin/auth.
func (c *client) adminDo(method, path string, body any, header ...string) response {
	c.e.t.Helper()
	return c.do(method, "/api/admin/auth"+path, body, header...)
}

// adminEnable2FA turns 2FA on for the logged-in client and returns the
// secret and the backup codes.
func adminEnable2FA(e *env, c *client) (string, []string) {
	e.t.Helper()
	r := c.post("/2fa/setup/", nil)
	expect(e.t, r, http.StatusOK, "")
	secret := r.json(e.t)["secret"].(string)
	r = c.post("/2fa/enable/", map[string]string{"code": adminTOTP(e, secret)})
	expect(e.t, r, http.StatusOK, "")
	var out struct {
		BackupCodes []string `json:"backup_codes"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.BackupCodes) == 0 {
		e.t.Fatalf("enable: got %s, want backup codes", r.body)
	}
	return secret, out.BackupCodes
}

// adminTOTP moves the clock to the next TOTP step (so no code is a replay)
// and returns the code of secret.
func adminTOTP(e *env, secret string) string {
	e.t.Helper()
	e.clock.Advance(30 * time.Second)
	code, err := totp.Code(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

// adminEventsOf returns the recorded events of kind.
func adminEventsOf(e *env, kind string) []authsys.Event {
	var out []authsys.Event
	for _, ev := range e.events.list() {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// adminEndpoints are every admin endpoint, {id} standing for a user id.
var adminEndpoints = []struct{ method, path string }{
	{http.MethodGet, "/users/"},
	{http.MethodGet, "/users/{id}/"},
	{http.MethodPost, "/users/{id}/disable-2fa/"},
	{http.MethodPost, "/users/{id}/revoke-sessions/"},
	{http.MethodPost, "/users/{id}/activate/"},
	{http.MethodPost, "/users/{id}/deactivate/"},
	{http.MethodPost, "/users/{id}/resend-verification/"},
}

func TestAdminAccessControl(t *testing.T) {
	e, admin, _ := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	target := adminUserByEmail(e, targetEmail)
	nonStaff := e.loggedIn(targetEmail, goodPassword)
	anonymous := e.client()
	bogus := e.client()
	bogus.setCookie("access_token", "not.a.jwt", "/")

	for _, ep := range adminEndpoints {
		for _, slash := range []bool{true, false} {
			path := strings.ReplaceAll(ep.path, "{id}", url.PathEscape(target.ID))
			if !slash {
				path = strings.TrimSuffix(path, "/")
			}
			t.Run(ep.method+" "+path, func(t *testing.T) {
				for _, tt := range []struct {
					name   string
					c      *client
					status int
					code   string
				}{
					{"anonymous", anonymous, http.StatusUnauthorized, "not_authenticated"},
					{"invalid token", bogus, http.StatusUnauthorized, "invalid_token"},
					{"not staff", nonStaff, http.StatusForbidden, "forbidden"},
				} {
					before := len(adminEventsOf(e, authsys.EventAdminAction))
					r := tt.c.adminDo(ep.method, path, nil)
					expect(t, r, tt.status, tt.code)
					if got := r.Header.Get("Cache-Control"); got != "no-store" {
						t.Errorf("%s: got Cache-Control %q, want no-store", tt.name, got)
					}
					if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
						t.Errorf("%s: got X-Content-Type-Options %q, want nosniff", tt.name, got)
					}
					if got := len(adminEventsOf(e, authsys.EventAdminAction)); got != before {
						t.Errorf("%s: got %d admin_action events, want %d", tt.name, got, before)
					}
				}
				// A wrong method is 405 with Allow, for admins too.
				other := http.MethodPost
				if ep.method == http.MethodPost {
					other = http.MethodGet
				}
				r := admin.adminDo(other, path, nil)
				expect(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
				if got := r.Header.Get("Allow"); got != ep.method {
					t.Errorf("got Allow %q, want %q", got, ep.method)
				}
			})
		}
	}

	// The target's state is untouched by every refused request.
	if got := adminUserByEmail(e, targetEmail); got.TokenVersion != target.TokenVersion || !got.IsActive {
		t.Errorf("refused requests changed the user: got tv %d active %t, want tv %d active true", got.TokenVersion, got.IsActive, target.TokenVersion)
	}
	denied := adminEventsOf(e, authsys.EventAdminDenied)
	if want := 2 * len(adminEndpoints); len(denied) != want {
		t.Fatalf("got %d admin_access_denied events, want %d", len(denied), want)
	}
	for _, ev := range denied {
		if ev.UserID != target.ID || ev.IP == "" || ev.Time.IsZero() {
			t.Errorf("got denied event %+v, want user %s with IP and time", ev, target.ID)
		}
	}

	expect(t, admin.adminDo(http.MethodGet, "/nope/", nil), http.StatusNotFound, "not_found")
	expect(t, admin.adminDo(http.MethodGet, "/users/"+target.ID+"/nope/", nil), http.StatusNotFound, "not_found")
}

func TestAdminDemotionTakesEffectAtOnce(t *testing.T) {
	e, admin, _ := adminEnv(t)
	expect(t, admin.adminDo(http.MethodGet, "/users/", nil), http.StatusOK, "")
	adminSetUser(e, adminEmail, func(u *authsys.User) { u.IsStaff = false })
	expect(t, admin.adminDo(http.MethodGet, "/users/", nil), http.StatusForbidden, "forbidden")
	adminSetUser(e, adminEmail, func(u *authsys.User) { u.IsStaff = true })
	expect(t, admin.adminDo(http.MethodGet, "/users/", nil), http.StatusOK, "")
}

func TestAdminCustomIsAdmin(t *testing.T) {
	const root = "root@example.com"
	e := newEnv(t, func(c *authsys.Config) {
		c.Hooks.IsAdmin = func(a authsys.Account) bool { return a.Email == root }
	})
	e.signupVerified(root, goodPassword)
	e.signupVerified("staff@example.com", goodPassword)
	adminSetUser(e, "staff@example.com", func(u *authsys.User) { u.IsStaff = true })
	expect(t, e.loggedIn(root, goodPassword).adminDo(http.MethodGet, "/users/", nil), http.StatusOK, "")
	expect(t, e.loggedIn("staff@example.com", goodPassword).adminDo(http.MethodGet, "/users/", nil), http.StatusForbidden, "forbidden")
}

func TestAdminCSRF(t *testing.T) {
	e, admin, adminUser := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	target := adminUserByEmail(e, targetEmail)
	for _, ep := range adminEndpoints {
		if ep.method != http.MethodPost {
			continue
		}
		path := strings.ReplaceAll(ep.path, "{id}", target.ID)
		for _, hdr := range [][]string{
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site"},
			{"Origin", "https://evil.example"},
		} {
			t.Run(path+" "+strings.Join(hdr, "="), func(t *testing.T) {
				expect(t, admin.adminDo(http.MethodPost, path, nil, hdr...), http.StatusForbidden, "csrf_failed")
			})
		}
	}
	if got := adminUserByEmail(e, targetEmail); got.TokenVersion != target.TokenVersion || !got.IsActive {
		t.Fatalf("cross-site requests changed the user: got tv %d active %t, want tv %d active true", got.TokenVersion, got.IsActive, target.TokenVersion)
	}
	if got := adminEventsOf(e, authsys.EventAdminAction); len(got) != 0 {
		t.Fatalf("cross-site requests emitted %d admin actions, want 0", len(got))
	}
	// The same request from the same origin passes.
	r := admin.adminDo(http.MethodPost, "/users/"+target.ID+"/revoke-sessions/", nil, "Sec-Fetch-Site", "same-origin")
	expect(t, r, http.StatusOK, "")
	if got := adminEventsOf(e, authsys.EventAdminAction); len(got) != 1 || got[0].ActorID != adminUser.ID {
		t.Fatalf("got admin events %+v, want one by %s", got, adminUser.ID)
	}
}

// adminUserView is the admin API's user object.
type adminUserView struct {
	ID                   string     `json:"id"`
	Email                string     `json:"email"`
	IsActive             bool       `json:"is_active"`
	EmailVerified        bool       `json:"email_verified"`
	IsStaff              bool       `json:"is_staff"`
	TwoFactorEnabled     bool       `json:"two_factor_enabled"`
	BackupCodesRemaining int        `json:"backup_codes_remaining"`
	DateJoined           time.Time  `json:"date_joined"`
	LastLogin            *time.Time `json:"last_login"`
}

// adminUserKeys are exactly the members of the admin user object: no hash,
// secret, code or token version ever appears.
var adminUserKeys = []string{"backup_codes_remaining", "date_joined", "disabled", "email", "email_verified", "id", "is_active", "is_staff", "last_login", "two_factor_enabled"}

// adminDecodeUser decodes {"user": {...}} and checks its members.
func adminDecodeUser(t *testing.T, r response) adminUserView {
	t.Helper()
	var raw struct {
		User map[string]json.RawMessage `json:"user"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatalf("got %s, want {user}: %v", r.body, err)
	}
	keys := make([]string, 0, len(raw.User))
	for k := range raw.User {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !slices.Equal(keys, adminUserKeys) {
		t.Fatalf("got user members %q, want %q", keys, adminUserKeys)
	}
	var out struct {
		User adminUserView `json:"user"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out.User
}

func TestAdminShowUser(t *testing.T) {
	e, admin, adminUser := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	c := e.loggedIn(targetEmail, goodPassword)
	loginAt := e.clock.Now().UTC()
	_, codes := adminEnable2FA(e, c)
	// One backup code is used at a 2FA login.
	r := e.client().post("/login/", map[string]string{"email": targetEmail, "password": goodPassword})
	expect(t, r, http.StatusOK, "")
	expect(t, e.client().post("/2fa/verify-login/", map[string]string{"session_token": r.json(t)["session_token"].(string), "code": codes[0]}), http.StatusOK, "")
	target := adminUserByEmail(e, targetEmail)

	got := adminDecodeUser(t, admin.adminDo(http.MethodGet, "/users/"+target.ID+"/", nil))
	if got.ID != target.ID || got.Email != targetEmail || !got.IsActive || !got.EmailVerified || got.IsStaff ||
		!got.TwoFactorEnabled || got.BackupCodesRemaining != len(codes)-1 || !got.DateJoined.Equal(target.DateJoined) ||
		got.LastLogin == nil || got.LastLogin.Before(loginAt) {
		t.Fatalf("got %+v, want target active, verified, not staff, 2FA on, %d codes left, joined %v, last login after %v",
			got, len(codes)-1, target.DateJoined, loginAt)
	}

	// A new, unverified user: inactive, never logged in.
	expect(t, e.client().post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusCreated, "")
	fresh := adminUserByEmail(e, "new@example.com")
	got = adminDecodeUser(t, admin.adminDo(http.MethodGet, "/users/"+fresh.ID, nil))
	if got.IsActive || got.EmailVerified || got.TwoFactorEnabled || got.BackupCodesRemaining != 0 || got.LastLogin != nil {
		t.Fatalf("got %+v, want inactive, unverified, no 2FA, no codes, last_login null", got)
	}
	if got := adminDecodeUser(t, admin.adminDo(http.MethodGet, "/users/"+adminUser.ID+"/", nil)); !got.IsStaff {
		t.Fatalf("got %+v for the admin, want is_staff true", got)
	}

	for _, id := range []string{"no-such-id", strings.Repeat("x", 300), url.PathEscape("a/b")} {
		expect(t, admin.adminDo(http.MethodGet, "/users/"+id+"/", nil), http.StatusNotFound, "not_found")
	}
}

func TestAdminActions(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		reason string
		// setup prepares the target, logged in as c, and may leave notes
		// for check, which verifies the effect.
		setup func(e *env, c *client) (notes map[string]string)
		check func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string)
	}{
		{
			name: "revoke sessions", path: "revoke-sessions", reason: authsys.AdminRevokeSessions,
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				if after.TokenVersion != before.TokenVersion+1 || !after.IsActive {
					t.Errorf("got tv %d active %t, want tv %d active", after.TokenVersion, after.IsActive, before.TokenVersion+1)
				}
				expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
				expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "invalid_token")
				e.loggedIn(targetEmail, goodPassword) // a new login works
			},
		},
		{
			name: "deactivate", path: "deactivate", reason: authsys.AdminDeactivate,
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				if after.IsActive || after.TokenVersion != before.TokenVersion+1 {
					t.Errorf("got active %t tv %d, want inactive tv %d", after.IsActive, after.TokenVersion, before.TokenVersion+1)
				}
				expect(t, c.get("/me/"), http.StatusUnauthorized, "")
				expect(t, c.post("/refresh/", nil), http.StatusUnauthorized, "")
				expect(t, e.client().post("/login/", map[string]string{"email": targetEmail, "password": goodPassword}), http.StatusForbidden, "account_inactive")
			},
		},
		{
			name: "activate a deactivated account", path: "activate", reason: authsys.AdminActivate,
			setup: func(e *env, c *client) map[string]string {
				adminSetUser(e, targetEmail, func(u *authsys.User) { u.IsActive = false })
				return nil
			},
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				if !after.IsActive || !after.EmailVerified {
					t.Errorf("got active %t verified %t, want both", after.IsActive, after.EmailVerified)
				}
				e.loggedIn(targetEmail, goodPassword)
			},
		},
		{
			name: "activate an unverified account", path: "activate", reason: authsys.AdminActivate,
			setup: func(e *env, c *client) map[string]string {
				adminSetUser(e, targetEmail, func(u *authsys.User) { u.IsActive, u.EmailVerified = false, false })
				return nil
			},
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				if !after.IsActive || !after.EmailVerified {
					t.Errorf("got active %t verified %t, want both", after.IsActive, after.EmailVerified)
				}
				e.loggedIn(targetEmail, goodPassword)
			},
		},
		{
			name: "disable 2FA", path: "disable-2fa", reason: authsys.AdminDisable2FA,
			setup: func(e *env, c *client) map[string]string {
				secret, _ := adminEnable2FA(e, c)
				// A login waiting for its code when 2FA goes away dies.
				r := e.client().post("/login/", map[string]string{"email": targetEmail, "password": goodPassword})
				expect(e.t, r, http.StatusOK, "")
				return map[string]string{"session_token": r.json(e.t)["session_token"].(string), "secret": secret}
			},
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				if !before.TOTPEnabled {
					t.Fatal("setup left 2FA off")
				}
				if after.TOTPEnabled || after.TOTPSecret != "" || after.TOTPPendingSecret != "" || len(after.BackupCodes) != 0 {
					t.Errorf("got 2FA %t, secret %t, pending %t, %d codes; want all gone",
						after.TOTPEnabled, after.TOTPSecret != "", after.TOTPPendingSecret != "", len(after.BackupCodes))
				}
				if after.TOTPLastStep != before.TOTPLastStep {
					t.Errorf("got last step %d, want the replay guard %d kept", after.TOTPLastStep, before.TOTPLastStep)
				}
				expect(t, e.client().post("/2fa/verify-login/", map[string]string{
					"session_token": notes["session_token"], "code": adminTOTP(e, notes["secret"]),
				}), http.StatusUnauthorized, "session_expired")
				r := e.client().post("/login/", map[string]string{"email": targetEmail, "password": goodPassword})
				expect(t, r, http.StatusOK, "")
				if r.json(t)["requires_2fa"] != false {
					t.Errorf("login after disable: got %s, want requires_2fa false", r.body)
				}
				// Every session ends, as when the user disables it: the
				// device that was lost may hold one.
				expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
			},
		},
		{
			name: "resend verification", path: "resend-verification", reason: authsys.AdminResendVerification,
			setup: func(e *env, c *client) map[string]string {
				adminSetUser(e, targetEmail, func(u *authsys.User) { u.IsActive, u.EmailVerified = false, false })
				e.outbox.Reset()
				return nil
			},
			check: func(t *testing.T, e *env, before, after authsys.User, c *client, notes map[string]string) {
				q := linkParams(t, e.waitMail(targetEmail))
				if q.Get("uid") != after.ID {
					t.Fatalf("got uid %q in the link, want %q", q.Get("uid"), after.ID)
				}
				expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
				if u := adminUserByEmail(e, targetEmail); !u.IsActive || !u.EmailVerified {
					t.Errorf("after the resent link: got active %t verified %t, want both", u.IsActive, u.EmailVerified)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, admin, adminUser := adminEnv(t)
			e.signupVerified(targetEmail, goodPassword)
			c := e.loggedIn(targetEmail, goodPassword)
			var notes map[string]string
			if tt.setup != nil {
				notes = tt.setup(e, c)
			}
			before := adminUserByEmail(e, targetEmail)
			for _, slash := range []string{"/", ""} {
				if slash == "" {
					// The path without its slash answers as well (and the
					// action is repeated; all are safe to repeat but
					// disable-2fa and resend-verification).
					if tt.path == "disable-2fa" || tt.path == "resend-verification" {
						continue
					}
				}
				r := admin.adminDo(http.MethodPost, "/users/"+before.ID+"/"+tt.path+slash, nil)
				expect(t, r, http.StatusOK, "")
				if got := adminDecodeUser(t, r); got.ID != before.ID {
					t.Fatalf("got user %q, want %q", got.ID, before.ID)
				}
			}
			after := adminUserByEmail(e, targetEmail)
			if tt.path == "revoke-sessions" || tt.path == "deactivate" {
				// Done twice: once per path form.
				before.TokenVersion++
			}
			tt.check(t, e, before, after, c, notes)

			evs := adminEventsOf(e, authsys.EventAdminAction)
			if len(evs) == 0 {
				t.Fatal("got no admin_action event")
			}
			ev := evs[0]
			if ev.UserID != before.ID || ev.ActorID != adminUser.ID || ev.Reason != tt.reason || ev.IP != "127.0.0.1" || ev.UserAgent == "" || ev.Time.IsZero() {
				t.Errorf("got event %+v, want user %s, actor %s, reason %s, IP, user agent and time", ev, before.ID, adminUser.ID, tt.reason)
			}
			expect(t, admin.adminDo(http.MethodPost, "/users/no-such-user/"+tt.path+"/", nil), http.StatusNotFound, "not_found")
		})
	}
}

func TestAdminActionRefusals(t *testing.T) {
	e, admin, adminUser := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	target := adminUserByEmail(e, targetEmail)
	for _, tt := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"disable 2FA that is off", "/users/" + target.ID + "/disable-2fa/", nil, http.StatusConflict, "two_factor_not_enabled"},
		{"resend to a verified address", "/users/" + target.ID + "/resend-verification/", nil, http.StatusConflict, "already_verified"},
		{"deactivate oneself", "/users/" + adminUser.ID + "/deactivate/", nil, http.StatusConflict, "conflict"},
		// Even with 2FA on, an admin's own second factor goes off only
		// through /2fa/disable/, with the password and a code.
		{"disable one's own 2FA", "/users/" + adminUser.ID + "/disable-2fa/", nil, http.StatusConflict, "conflict"},
		{"a body with unknown fields", "/users/" + target.ID + "/revoke-sessions/", map[string]string{"reason": "x"}, http.StatusBadRequest, "invalid_json"},
		{"a body that is not JSON", "/users/" + target.ID + "/revoke-sessions/", "reason=x", http.StatusBadRequest, "invalid_json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, admin.adminDo(http.MethodPost, tt.path, tt.body), tt.status, tt.code)
		})
	}
	if got := adminUserByEmail(e, targetEmail); got.TokenVersion != target.TokenVersion {
		t.Errorf("refused actions changed the token version: got %d, want %d", got.TokenVersion, target.TokenVersion)
	}
	if got := adminUserByEmail(e, adminEmail); !got.IsActive {
		t.Error("the admin deactivated itself")
	}
	if got := adminEventsOf(e, authsys.EventAdminAction); len(got) != 0 {
		t.Errorf("refused actions emitted %d events, want 0", len(got))
	}
	// An empty JSON object is an acceptable body.
	expect(t, admin.adminDo(http.MethodPost, "/users/"+target.ID+"/revoke-sessions/", map[string]string{}), http.StatusOK, "")
}

// adminList is the admin API's list page.
type adminList struct {
	Users      []adminUserView `json:"users"`
	NextCursor *string         `json:"next_cursor"`
}

// adminListAll follows next_cursor from the first page of query and
// returns the emails in order and the number of pages.
func adminListAll(t *testing.T, c *client, query url.Values) ([]string, int) {
	t.Helper()
	var emails []string
	pages := 0
	for {
		r := c.adminDo(http.MethodGet, "/users/?"+query.Encode(), nil)
		expect(t, r, http.StatusOK, "")
		var page adminList
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Users == nil {
			t.Fatalf("got %s, want users to be an array", r.body)
		}
		pages++
		for _, u := range page.Users {
			emails = append(emails, u.Email)
		}
		if page.NextCursor == nil {
			return emails, pages
		}
		if len(page.Users) == 0 || pages > 1000 {
			t.Fatalf("page %d: got %d users and a next cursor", pages, len(page.Users))
		}
		query.Set("cursor", *page.NextCursor)
	}
}

// adminCreateUsers adds users straight to the store.
func adminCreateUsers(t *testing.T, s store.UserStore, emails ...string) {
	t.Helper()
	for _, em := range emails {
		if _, err := s.CreateUser(t.Context(), authsys.User{Email: em, PasswordHash: "x", DateJoined: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
			t.Fatalf("CreateUser(%s): %v", em, err)
		}
	}
}

func TestAdminListPagination(t *testing.T) {
	e, admin, _ := adminEnv(t)
	var users []string
	for i := range 20 {
		users = append(users, fmt.Sprintf("user%02d@example.com", i))
	}
	adminCreateUsers(t, e.store, users...)
	adminCreateUsers(t, e.store, "other@example.com", "zed@example.com")
	all := append(slices.Clone(users), adminEmail, "other@example.com", "zed@example.com")
	slices.Sort(all)

	for _, tt := range []struct {
		q, limit  string
		want      []string
		wantPages int
	}{
		{"user", "5", users, 4}, // the last page is full: no empty page after it
		{"user", "6", users, 4}, // 6, 6, 6, 2
		{"USER1", "3", users[10:], 4},
		{" User0", "100", users[:10], 1},
		{"", "", all, 1},         // the default page size holds everyone
		{"", "1", all, len(all)}, // one by one
		{"nobody", "10", nil, 1},
	} {
		t.Run(fmt.Sprintf("q=%q limit=%s", tt.q, tt.limit), func(t *testing.T) {
			q := url.Values{"q": {tt.q}}
			if tt.limit != "" {
				q.Set("limit", tt.limit)
			}
			got, pages := adminListAll(t, admin, q)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if pages != tt.wantPages {
				t.Errorf("got %d pages, want %d", pages, tt.wantPages)
			}
		})
	}
}

// TestAdminListDuringSignups pages through the users while others are
// being created: every user that existed before is seen exactly once, in
// order.
func TestAdminListDuringSignups(t *testing.T) {
	e, admin, _ := adminEnv(t)
	var existing []string
	for i := range 30 {
		existing = append(existing, fmt.Sprintf("u%03d@example.com", i*10))
	}
	adminCreateUsers(t, e.store, existing...)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				select {
				case <-stop:
					return
				default:
				}
				// New emails sort between and around the existing ones.
				em := fmt.Sprintf("u%03d-%d-%d@example.com", (i*7)%300, g, i)
				if _, err := e.store.CreateUser(context.Background(), authsys.User{Email: em, PasswordHash: "x"}); err != nil {
					t.Errorf("CreateUser: %v", err)
					return
				}
			}
		})
	}
	got, _ := adminListAll(t, admin, url.Values{"q": {"u"}, "limit": {"4"}})
	close(stop)
	wg.Wait()

	if !slices.IsSorted(got) {
		t.Errorf("got emails out of order: %q", got)
	}
	seen := map[string]int{}
	for _, em := range got {
		seen[em]++
	}
	for em, n := range seen {
		if n != 1 {
			t.Errorf("got %s %d times, want once", em, n)
		}
	}
	for _, em := range existing {
		if seen[em] != 1 {
			t.Errorf("got %s %d times, want once", em, seen[em])
		}
	}
}

func TestAdminListValidation(t *testing.T) {
	_, admin, _ := adminEnv(t)
	for _, tt := range []struct {
		query, field string
	}{
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=101", "limit"},
		{"limit=ten", "limit"},
		{"cursor=%21%21%21", "cursor"},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("admin@example.com")), "cursor"},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("e1:")), "cursor"},
		{"q=" + strings.Repeat("a", 255), "q"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			r := admin.adminDo(http.MethodGet, "/users/?"+tt.query, nil)
			expect(t, r, http.StatusBadRequest, "validation_failed")
			if errs, _ := r.json(t)["errors"].(map[string]any); errs[tt.field] == nil {
				t.Errorf("got %s, want an error on %s", r.body, tt.field)
			}
		})
	}
}

// adminNoLister hides the memory store's ListUsers.
type adminNoLister struct{ store.UserStore }

func TestAdminListWithoutLister(t *testing.T) {
	_, admin, adminUser := adminEnv(t, func(c *authsys.Config) { c.Users = adminNoLister{c.Users} })
	r := admin.adminDo(http.MethodGet, "/users/", nil)
	expect(t, r, http.StatusNotImplemented, "not_implemented")
	// Everything else works without the capability.
	expect(t, admin.adminDo(http.MethodGet, "/users/"+adminUser.ID+"/", nil), http.StatusOK, "")
}

// TestAdminConcurrentRevokes races admins revoking one user's sessions:
// no bump is lost and every action is emitted once.
func TestAdminConcurrentRevokes(t *testing.T) {
	e, admin, _ := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	before := adminUserByEmail(e, targetEmail)
	const n = 24
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/api/admin/auth/users/"+before.ID+"/revoke-sessions/", nil)
			res, _, err := e.harnessSend(admin.hc, req, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if res.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("got %d successful revokes, want %d", ok.Load(), n)
	}
	if got := adminUserByEmail(e, targetEmail).TokenVersion; got != before.TokenVersion+n {
		t.Fatalf("got token version %d, want %d", got, before.TokenVersion+n)
	}
	if got := len(adminEventsOf(e, authsys.EventAdminAction)); got != n {
		t.Fatalf("got %d admin events, want %d", got, n)
	}
}

// TestAdminDeactivateRacesSessions deactivates a user whose client keeps
// calling /me/ and /refresh/ from many goroutines: once the deactivation
// has answered, no request sent afterwards succeeds.
func TestAdminDeactivateRacesSessions(t *testing.T) {
	e, admin, _ := adminEnv(t)
	e.signupVerified(targetEmail, goodPassword)
	victim := e.loggedIn(targetEmail, goodPassword)
	target := adminUserByEmail(e, targetEmail)

	var done atomic.Bool
	var lateSuccess atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			path := "/api/auth/me/"
			method := http.MethodGet
			if g%2 == 1 {
				path, method = "/api/auth/refresh/", http.MethodPost
			}
			// Keep going until 20 requests have been sent after the
			// deactivation answered.
			for late := 0; late < 20; {
				after := done.Load()
				req, _ := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
				res, _, err := e.harnessSend(victim.hc, req, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if after {
					late++
					if res.StatusCode == http.StatusOK {
						lateSuccess.Add(1)
					}
				}
			}
		})
	}
	expect(t, admin.adminDo(http.MethodPost, "/users/"+target.ID+"/deactivate/", nil), http.StatusOK, "")
	done.Store(true)
	wg.Wait()
	if n := lateSuccess.Load(); n != 0 {
		t.Fatalf("got %d successful requests after the deactivation, want 0", n)
	}
	expect(t, victim.get("/me/"), http.StatusUnauthorized, "")
}

// TestAdminDeactivationSticks deactivates an account that never verified
// its address: no verification link (old, resent, or from a new signup)
// can bring it back; only the admin's activate does.
func TestAdminDeactivationSticks(t *testing.T) {
	e, admin, _ := adminEnv(t)
	const spam = "spammer@example.com"
	c := e.client()
	expect(t, c.post("/signup/", map[string]string{"email": spam, "password": goodPassword}), http.StatusCreated, "")
	old := linkParams(t, e.waitMail(spam))
	u := adminUserByEmail(e, spam)
	expect(t, admin.adminDo(http.MethodPost, "/users/"+u.ID+"/deactivate/", nil), http.StatusOK, "")
	if got := adminUserByEmail(e, spam); got.IsActive || !got.Disabled {
		t.Fatalf("after deactivate: active %t disabled %t, want false, true", got.IsActive, got.Disabled)
	}
	mails := e.outbox.Len()

	// The old link, a resend and a new signup: no link works, none is sent.
	expect(t, c.post("/verify-account/", map[string]string{"uid": old.Get("uid"), "token": old.Get("token")}), http.StatusBadRequest, "invalid_token")
	expect(t, c.post("/verify-account/resend/", map[string]string{"email": spam}), http.StatusOK, "")
	expect(t, c.post("/signup/", map[string]string{"email": spam, "password": goodPassword}), http.StatusCreated, "")
	expect(t, admin.adminDo(http.MethodPost, "/users/"+u.ID+"/resend-verification/", nil), http.StatusConflict, "conflict")
	e.waitMail(adminEmail) // let background sends finish
	if n := e.outbox.Len() - mails; n != 0 {
		t.Errorf("got %d mails to a deactivated account, want none", n)
	}
	r := c.post("/login/", map[string]string{"email": spam, "password": goodPassword})
	expect(t, r, http.StatusForbidden, "account_inactive")

	// Only the admin's activate brings it back (and marks it verified).
	expect(t, admin.adminDo(http.MethodPost, "/users/"+u.ID+"/activate/", nil), http.StatusOK, "")
	if got := adminUserByEmail(e, spam); !got.IsActive || got.Disabled || !got.EmailVerified {
		t.Fatalf("after activate: active %t disabled %t verified %t, want true, false, true", got.IsActive, got.Disabled, got.EmailVerified)
	}
	expect(t, c.post("/login/", map[string]string{"email": spam, "password": goodPassword}), http.StatusOK, "")
}

// adminLogBuffer collects JSON log records written concurrently.
type adminLogBuffer struct{ testenv.Buffer }

// records returns the JSON log records with the given message.
func (l *adminLogBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestSecurityEvents triggers every event kind through the HTTP API and
// checks that each arrives at OnEvent and as a structured log record, with
// the user, the client IP, the user agent and the time. (That no event or
// record holds a secret is checked for every test by the harness's
// secretsCapture.)
func TestSecurityEvents(t *testing.T) {
	logs := &adminLogBuffer{}
	e := newEnv(t, func(c *authsys.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		c.RateLimits = testLimits(map[string]string{limitPasswordReset: "3/min"})
		c.Passkeys = authsys.Passkeys{RPID: pkRPID}
	})
	const (
		alice = "alice@example.com"
		bob   = "bob@example.com"
		pw2   = "a second long passphrase"
		pw3   = "a third long passphrase"
	)
	anon := e.client()

	// signup, signup_existing_email, account_verified
	e.signupVerified(alice, goodPassword)
	expect(t, anon.post("/signup/", map[string]string{"email": alice, "password": goodPassword}), http.StatusCreated, "")
	e.waitMail(alice)
	expect(t, anon.post("/signup/", map[string]string{"email": bob, "password": goodPassword}), http.StatusCreated, "")
	e.waitMail(bob)

	// login_failed (wrong_password, unknown_email, email_not_verified), login_succeeded
	expect(t, anon.post("/login/", map[string]string{"email": alice, "password": "not the password at all"}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, anon.post("/login/", map[string]string{"email": "nobody@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, anon.post("/login/", map[string]string{"email": bob, "password": goodPassword}), http.StatusForbidden, "email_not_verified")
	c := e.loggedIn(alice, goodPassword)

	// refresh_token_reuse: a rotated refresh token replayed after the grace
	old := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	e.clock.Advance(time.Minute)
	replay := e.client()
	replay.setCookie("refresh_token", old, "/api/auth/")
	expect(t, replay.post("/refresh/", nil), http.StatusUnauthorized, "token_reused")

	// session_revoked: one session revoked from another
	victim := e.loggedIn(alice, goodPassword)
	_, claims, _ := coreJWTParts(t, victim.accessCookie())
	expect(t, e.loggedIn(alice, goodPassword).do(http.MethodDelete, "/api/auth/sessions/"+claims["sid"].(string)+"/", nil), http.StatusOK, "")

	// reauthenticated
	expect(t, e.loggedIn(alice, goodPassword).post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusOK, "")

	// logout, logout_all
	expect(t, e.loggedIn(alice, goodPassword).post("/logout/", nil), http.StatusOK, "")
	expect(t, e.loggedIn(alice, goodPassword).post("/logout-all/", nil), http.StatusOK, "")

	// password_reset_requested, password_reset
	expect(t, anon.post("/password-reset/", map[string]string{"email": alice}), http.StatusOK, "")
	q := linkParams(t, e.waitMail(alice))
	expect(t, anon.post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw2}), http.StatusOK, "")

	// password_changed
	c = e.loggedIn(alice, pw2)
	expect(t, c.post("/change-password/", map[string]string{"current_password": pw2, "new_password": pw3}), http.StatusOK, "")

	// email_change_requested, email_changed
	const alice2 = "alice2@example.com"
	expect(t, c.post("/change-email/", map[string]string{"new_email": alice2, "password": pw3}), http.StatusOK, "")
	q = linkParams(t, e.waitMail(alice2))
	expect(t, anon.post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusOK, "")

	// two_factor_enabled, two_factor_failed, two_factor_used,
	// backup_code_used, backup_codes_regenerated, two_factor_disabled
	c = e.loggedIn(alice2, pw3)
	secret, codes := adminEnable2FA(e, c)
	login := func() string {
		r := e.client().post("/login/", map[string]string{"email": alice2, "password": pw3})
		expect(t, r, http.StatusOK, "")
		return r.json(t)["session_token"].(string)
	}
	st := login()
	expect(t, anon.post("/2fa/verify-login/", map[string]string{"session_token": st, "code": "000000x"}), http.StatusBadRequest, "invalid_code")
	expect(t, anon.post("/2fa/verify-login/", map[string]string{"session_token": st, "code": adminTOTP(e, secret)}), http.StatusOK, "")
	expect(t, anon.post("/2fa/verify-login/", map[string]string{"session_token": login(), "code": codes[0]}), http.StatusOK, "")
	expect(t, c.post("/2fa/backup-codes/", map[string]string{"password": pw3}), http.StatusOK, "")
	expect(t, c.post("/2fa/disable/", map[string]string{"password": pw3, "code": adminTOTP(e, secret)}), http.StatusOK, "")

	// throttled
	for i := 0; ; i++ {
		r := anon.post("/password-reset/", map[string]string{"email": "someone@example.com"})
		if r.StatusCode == http.StatusTooManyRequests {
			break
		}
		if i == 10 {
			t.Fatalf("no throttling after %d password reset requests: got %d", i+1, r.StatusCode)
		}
	}

	// mail_failed. Outbox.Err may change only while no send runs: wait
	// for the mails of the steps above first.
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.outbox.Err = errors.New("smtp: 421 try later")
	expect(t, anon.post("/verify-account/resend/", map[string]string{"email": bob}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.outbox.Err = nil

	// admin_access_denied, then admin_action
	expect(t, c.adminDo(http.MethodGet, "/users/", nil), http.StatusForbidden, "forbidden")
	aliceUser := adminSetUser(e, alice2, func(u *authsys.User) { u.IsStaff = true })
	bobUser := adminUserByEmail(e, bob)
	expect(t, c.adminDo(http.MethodPost, "/users/"+bobUser.ID+"/activate/", nil), http.StatusOK, "")

	// passkey_added, passkey_used, passkey_clone_detected, passkey_removed
	pc := e.loggedIn(alice2, pw3)
	key, view := pkRegister(e, pc)
	_, r := pkLogin(e, key, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
	key.counter = 1 // a copy of the authenticator, behind the original
	_, r = pkLogin(e, key, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	expect(t, pc.do(http.MethodDelete, "/api/auth/passkeys/"+view["id"].(string)+"/", nil), http.StatusOK, "")

	// Every kind arrived, with the user, IP, user agent and time.
	e.waitMail(bob) // also waits for every background send
	type user struct{ id, reason string }
	want := map[string]user{
		authsys.EventSignup:               {aliceUser.ID, ""},
		authsys.EventSignupExisting:       {aliceUser.ID, ""},
		authsys.EventAccountVerified:      {aliceUser.ID, ""},
		authsys.EventLoginSucceeded:       {aliceUser.ID, ""},
		authsys.EventLoginFailed:          {aliceUser.ID, "wrong_password"},
		authsys.EventLogout:               {aliceUser.ID, ""},
		authsys.EventLogoutAll:            {aliceUser.ID, ""},
		authsys.EventReauthenticated:      {aliceUser.ID, ""},
		authsys.EventRefreshReuse:         {aliceUser.ID, ""},
		authsys.EventSessionRevoked:       {aliceUser.ID, "one"},
		authsys.EventPasswordResetRequest: {aliceUser.ID, ""},
		authsys.EventPasswordReset:        {aliceUser.ID, ""},
		authsys.EventPasswordChanged:      {aliceUser.ID, ""},
		authsys.EventEmailChangeRequested: {aliceUser.ID, ""},
		authsys.EventEmailChanged:         {aliceUser.ID, ""},
		authsys.EventTwoFactorEnabled:     {aliceUser.ID, ""},
		authsys.EventTwoFactorFailed:      {aliceUser.ID, ""},
		authsys.EventTwoFactorUsed:        {aliceUser.ID, ""},
		authsys.EventBackupCodeUsed:       {aliceUser.ID, ""},
		authsys.EventBackupCodesRenewed:   {aliceUser.ID, ""},
		authsys.EventTwoFactorDisabled:    {aliceUser.ID, ""},
		authsys.EventThrottled:            {"", "password_reset"},
		authsys.EventMailFailed:           {bobUser.ID, ""},
		authsys.EventAdminDenied:          {aliceUser.ID, ""},
		authsys.EventAdminAction:          {bobUser.ID, authsys.AdminActivate},
		authsys.EventPasskeyAdded:         {aliceUser.ID, ""},
		authsys.EventPasskeyUsed:          {aliceUser.ID, "login"},
		authsys.EventPasskeyCloneDetected: {aliceUser.ID, "login"},
		authsys.EventPasskeyRemoved:       {aliceUser.ID, "user"},
	}
	for _, kind := range authsys.EventKinds {
		if _, ok := want[kind]; !ok {
			t.Errorf("event kind %q is not triggered by this test; add it", kind)
		}
	}
	events := e.events.list()
	for kind, w := range want {
		var found []authsys.Event
		for _, ev := range events {
			if ev.Kind == kind && (w.reason == "" || ev.Reason == w.reason) {
				found = append(found, ev)
			}
		}
		if len(found) == 0 {
			t.Errorf("got no %s event (reason %q)", kind, w.reason)
			continue
		}
		ev := found[0]
		if ev.UserID != w.id {
			t.Errorf("%s: got user %q, want %q", kind, ev.UserID, w.id)
		}
		if ev.Time.IsZero() || ev.Time.After(e.clock.Now()) {
			t.Errorf("%s: got time %v, want the clock's time", kind, ev.Time)
		}
		// A mail fails in the background, after its request, but its
		// event names the request's client all the same.
		if ev.IP != "127.0.0.1" {
			t.Errorf("%s: got IP %q, want 127.0.0.1", kind, ev.IP)
		}
		if ev.UserAgent == "" {
			t.Errorf("%s: got no user agent", kind)
		}
		wantActor := ""
		if kind == authsys.EventAdminAction {
			wantActor = aliceUser.ID
		}
		if ev.ActorID != wantActor {
			t.Errorf("%s: got actor %q, want %q", kind, ev.ActorID, wantActor)
		}
	}
	// Only a failed login for an unknown email and throttling (refused
	// before any lookup) come without a user.
	for _, ev := range events {
		if ev.UserID == "" && ev.Kind != authsys.EventThrottled && !(ev.Kind == authsys.EventLoginFailed && ev.Reason == "unknown_email") {
			t.Errorf("got event %+v without a user", ev)
		}
	}
	// Each event about an account names its address at the time (alice
	// changes hers on the way), but those whose request never loads the
	// account: a logout, a wrong code for a pending login, throttling. A
	// failed login for an unknown email names the address it tried.
	addresses := map[string][]string{aliceUser.ID: {alice, alice2}, bobUser.ID: {bob}}
	for _, ev := range events {
		switch {
		case ev.Kind == authsys.EventLoginFailed && ev.Reason == "unknown_email":
			if ev.Email != "nobody@example.com" {
				t.Errorf("%s %s: got email %q, want the address tried", ev.Kind, ev.Reason, ev.Email)
			}
		case ev.Kind == authsys.EventLogout, ev.Kind == authsys.EventThrottled,
			ev.Kind == authsys.EventTwoFactorFailed && strings.HasPrefix(ev.Reason, "login"):
		case !slices.Contains(addresses[ev.UserID], ev.Email):
			t.Errorf("%s %s: got email %q, want one of %q", ev.Kind, ev.Reason, ev.Email, addresses[ev.UserID])
		}
	}

	// Each event is also one structured log record, in the same order.
	recs := logs.records(t, "authsys: security event")
	if len(recs) != len(events) {
		t.Fatalf("got %d security event log records, want %d", len(recs), len(events))
	}
	for i, ev := range events {
		rec := recs[i]
		for key, want := range map[string]string{"event": ev.Kind, "user_id": ev.UserID, "email": ev.Email, "actor_id": ev.ActorID, "reason": ev.Reason, "ip": ev.IP} {
			got, _ := rec[key].(string)
			if got != want {
				t.Errorf("record %d (%s): got %s %q, want %q", i, ev.Kind, key, got, want)
			}
		}
	}
}

// TestAdminActionMethod runs every admin action through Auth.AdminAction, as an
// operator's tool would: each changes the user as the admin API does and
// emits an admin_action event naming the actor.
func TestAdminActionMethod(t *testing.T) {
	const actor = "cli:alice"
	for _, tc := range []struct {
		action string
		// prepare returns the user's email; check checks the user after
		// the action.
		prepare func(e *env) string
		check   func(t *testing.T, e *env, email string, before, after authsys.User)
	}{
		{authsys.AdminDisable2FA, func(e *env) string {
			return e.tfaEnabled("twofa@example.com").email
		}, func(t *testing.T, e *env, email string, before, after authsys.User) {
			if after.TOTPEnabled || after.TOTPSecret != "" || len(after.BackupCodes) != 0 {
				t.Errorf("got 2FA enabled %t, secret set %t, %d backup codes; want all gone", after.TOTPEnabled, after.TOTPSecret != "", len(after.BackupCodes))
			}
			expect(t, e.loggedIn(email, goodPassword).get("/me/"), http.StatusOK, "")
		}},
		{authsys.AdminRevokeSessions, func(e *env) string {
			e.signupVerified("revoke@example.com", goodPassword)
			return "revoke@example.com"
		}, func(t *testing.T, e *env, email string, before, after authsys.User) {
			if after.TokenVersion != before.TokenVersion+1 {
				t.Errorf("got TokenVersion %d, want %d", after.TokenVersion, before.TokenVersion+1)
			}
		}},
		{authsys.AdminActivate, func(e *env) string {
			expect(t, e.client().post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}), http.StatusCreated, "")
			return "new@example.com"
		}, func(t *testing.T, e *env, email string, before, after authsys.User) {
			if before.IsActive || !after.IsActive {
				t.Errorf("got active %t before, %t after; want false, true", before.IsActive, after.IsActive)
			}
			expect(t, e.loggedIn(email, goodPassword).get("/me/"), http.StatusOK, "")
		}},
		{authsys.AdminDeactivate, func(e *env) string {
			e.signupVerified("leaver@example.com", goodPassword)
			return "leaver@example.com"
		}, func(t *testing.T, e *env, email string, before, after authsys.User) {
			if after.IsActive || !after.Disabled || after.TokenVersion <= before.TokenVersion {
				t.Errorf("got active %t, disabled %t, TokenVersion %d→%d; want inactive, disabled and bumped", after.IsActive, after.Disabled, before.TokenVersion, after.TokenVersion)
			}
			expect(t, e.client().post("/login/", map[string]string{"email": email, "password": goodPassword}), http.StatusForbidden, "account_inactive")
		}},
		{authsys.AdminResendVerification, func(e *env) string {
			expect(t, e.client().post("/signup/", map[string]string{"email": "slow@example.com", "password": goodPassword}), http.StatusCreated, "")
			return "slow@example.com"
		}, func(t *testing.T, e *env, email string, before, after authsys.User) {
			ms := coreMails(e, email, mail.KindVerifyAccount)
			if len(ms) != 2 {
				t.Fatalf("got %d verification mails, want 2 (signup and resend)", len(ms))
			}
			q := linkParams(t, ms[1])
			expect(t, e.client().post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
		}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			e := newEnv(t)
			email := tc.prepare(e)
			coreFlush(e)
			before := coreUser(e, email)
			var c *client
			if before.IsActive && !before.TOTPEnabled {
				c = e.loggedIn(email, goodPassword)
			}
			got, err := e.auth.AdminAction(t.Context(), actor, before.ID, tc.action)
			if err != nil {
				t.Fatalf("AdminAction(%s): %v", tc.action, err)
			}
			after := coreUser(e, email)
			if got.ID != after.ID || got.TokenVersion != after.TokenVersion || got.IsActive != after.IsActive || got.TOTPEnabled != after.TOTPEnabled {
				t.Errorf("AdminAction returned %+v, want the user as stored %+v", got, after)
			}
			tc.check(t, e, email, before, after)
			if c != nil && after.TokenVersion != before.TokenVersion {
				expect(t, c.get("/me/"), http.StatusUnauthorized, "")
			}
			evs := adminEventsOf(e, authsys.EventAdminAction)
			if len(evs) != 1 || evs[0].ActorID != actor || evs[0].UserID != before.ID || evs[0].Reason != tc.action {
				t.Errorf("got admin_action events %+v, want one by %s on %s with reason %s", evs, actor, before.ID, tc.action)
			}
		})
	}
}

// TestAdminActionMethodRefusals checks the errors of Auth.AdminAction: each
// leaves the user as it was and emits no admin_action event.
func TestAdminActionMethodRefusals(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("plain@example.com", goodPassword)
	expect(t, e.client().post("/signup/", map[string]string{"email": "gone@example.com", "password": goodPassword}), http.StatusCreated, "")
	coreSetUser(e, "gone@example.com", func(u *authsys.User) { u.Disabled = true })
	coreFlush(e)
	plain := coreUser(e, "plain@example.com")
	gone := coreUser(e, "gone@example.com")
	mails := coreFlush(e)
	for _, tc := range []struct {
		name, id, action string
		want             error
	}{
		{"unknown action", plain.ID, "promote", authsys.ErrUnknownAdminAction},
		{"empty action", plain.ID, "", authsys.ErrUnknownAdminAction},
		{"unknown user", "0123456789abcdef0123456789abcdef", authsys.AdminRevokeSessions, store.ErrNotFound},
		{"disable 2FA without 2FA", plain.ID, authsys.AdminDisable2FA, authsys.ErrTwoFactorNotEnabled},
		{"resend to a verified account", plain.ID, authsys.AdminResendVerification, authsys.ErrAlreadyVerified},
		{"resend to a deactivated account", gone.ID, authsys.AdminResendVerification, authsys.ErrDeactivated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.auth.AdminAction(t.Context(), "cli:alice", tc.id, tc.action)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
		})
	}
	if got := coreUser(e, "plain@example.com"); got.TokenVersion != plain.TokenVersion || got.IsActive != plain.IsActive || got.TOTPEnabled {
		t.Errorf("a refused action changed the user: %+v, was %+v", got, plain)
	}
	if got := coreFlush(e); got != mails {
		t.Errorf("got %d mails from refused actions, want none", got-mails)
	}
	if evs := adminEventsOf(e, authsys.EventAdminAction); len(evs) != 0 {
		t.Errorf("got admin_action events %+v from refused actions, want none", evs)
	}
}

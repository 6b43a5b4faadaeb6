package authsys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	var out []authsys.Event
	for _, ev := range e.events.ev {
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
		c.Hooks.IsAdmin = func(u authsys.User) bool { return u.Email == root }
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
				expect(t, c.get("/me/"), http.StatusOK, "") // sessions survive
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

package authsys_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
)

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

	// login_failed (wrong_password, unknown_email, inactive), login_succeeded
	expect(t, anon.post("/login/", map[string]string{"email": alice, "password": "not the password at all"}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, anon.post("/login/", map[string]string{"email": "nobody@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, anon.post("/login/", map[string]string{"email": bob, "password": goodPassword}), http.StatusForbidden, "account_inactive")
	c := e.loggedIn(alice, goodPassword)

	// refresh_token_reuse: a rotated refresh token replayed after the grace
	old := c.refreshCookie()
	expect(t, c.post("/refresh/", nil), http.StatusOK, "")
	e.clock.Advance(time.Minute)
	replay := e.client()
	replay.setCookie("refresh_token", old, "/api/auth/")
	expect(t, replay.post("/refresh/", nil), http.StatusUnauthorized, "token_reused")

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
		authsys.EventRefreshReuse:         {aliceUser.ID, ""},
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
	}
	for _, kind := range authsys.EventKinds {
		if _, ok := want[kind]; !ok {
			t.Errorf("event kind %q is not triggered by this test; add it", kind)
		}
	}
	e.events.mu.Lock()
	events := slices.Clone(e.events.ev)
	e.events.mu.Unlock()
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

	// Each event is also one structured log record, in the same order.
	recs := logs.records(t, "authsys: security event")
	if len(recs) != len(events) {
		t.Fatalf("got %d security event log records, want %d", len(recs), len(events))
	}
	for i, ev := range events {
		rec := recs[i]
		for key, want := range map[string]string{"event": ev.Kind, "user_id": ev.UserID, "actor_id": ev.ActorID, "reason": ev.Reason, "ip": ev.IP} {
			got, _ := rec[key].(string)
			if got != want {
				t.Errorf("record %d (%s): got %s %q, want %q", i, ev.Kind, key, got, want)
			}
		}
	}
}

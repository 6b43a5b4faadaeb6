package authsys_test

// Email change and its race, and the links that emails carry.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
	"github.com/authsys-go/authsys/mail"
)

func TestCoreChangeEmail(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("old@example.com", goodPassword)
	e.signupVerified("taken@example.com", goodPassword)
	c := e.loggedIn("old@example.com", goodPassword)

	request := func(newEmail string) response {
		t.Helper()
		return c.post("/change-email/", map[string]string{"new_email": newEmail, "password": goodPassword})
	}
	r := request("New@Example.com")
	expect(t, r, http.StatusOK, "")
	if strings.Contains(string(r.body), "token") {
		t.Errorf("got body %s, want no token in the answer", r.body)
	}
	if got := coreUser(e, "old@example.com").Email; got != "old@example.com" {
		t.Fatalf("got email %q before confirmation, want old@example.com", got)
	}
	m := coreLastMail(e, "new@example.com", mail.KindEmailChangeConfirm)
	q := coreLinkQuery(t, m, coreFrontend+"/confirm-email-change?")
	if len(q) != 1 || q.Get("token") == "" {
		t.Fatalf("got link query %v, want only a token", q)
	}
	// A taken address: the same answer, no mail to it (the current
	// address is told of the request, as for any). As the newer request,
	// it kills the link above.
	notices := len(coreMails(e, "old@example.com", mail.KindEmailChangeRequested))
	toTaken := len(coreMails(e, "taken@example.com", ""))
	r2 := request("taken@example.com")
	expect(t, r2, http.StatusOK, "")
	if string(r2.body) != string(r.body) {
		t.Errorf("got body %s for a taken address, want %s", r2.body, r.body)
	}
	if n := len(coreMails(e, "taken@example.com", "")); n != toTaken {
		t.Errorf("got %d mails to a taken address, want none", n-toTaken)
	}
	if n := len(coreMails(e, "old@example.com", mail.KindEmailChangeRequested)); n != notices+1 {
		t.Errorf("got %d notices to the current address, want %d", n, notices+1)
	}
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
	expect(t, request("New@Example.com"), http.StatusOK, "")
	q = coreLinkQuery(t, coreLastMail(e, "new@example.com", mail.KindEmailChangeConfirm), coreFrontend+"/confirm-email-change?")

	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"wrong password", map[string]string{"new_email": "x@example.com", "password": "not my password"}, 400, "invalid_password"},
		{"invalid email", map[string]string{"new_email": "x", "password": goodPassword}, 400, "validation_failed"},
		{"same email", map[string]string{"new_email": "OLD@example.com", "password": goodPassword}, 400, "validation_failed"},
		{"missing password", map[string]string{"new_email": "x@example.com"}, 400, "validation_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, c.post("/change-email/", tc.body), tc.status, tc.code)
		})
	}
	expect(t, e.client().post("/change-email/", map[string]string{"new_email": "x@example.com", "password": goodPassword}), http.StatusUnauthorized, "not_authenticated")

	// Confirm failures first.
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": "no-such-token"}), http.StatusBadRequest, "invalid_token")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{}), http.StatusBadRequest, "validation_failed")
	expect(t, e.client().get("/change-email-confirm/"), http.StatusBadRequest, "validation_failed")

	// GET confirms.
	tv := coreUser(e, "old@example.com").TokenVersion
	expect(t, e.client().get("/change-email-confirm/?token="+q.Get("token")), http.StatusOK, "")
	u, err := e.store.UserByEmail(t.Context(), "new@example.com")
	if err != nil {
		t.Fatalf("got %v looking up the new address, want the user", err)
	}
	if !u.EmailVerified || u.TokenVersion != tv+1 {
		t.Errorf("got EmailVerified %v TokenVersion %d, want true %d", u.EmailVerified, u.TokenVersion, tv+1)
	}
	notice := coreLastMail(e, "old@example.com", mail.KindEmailChangedNotice)
	if strings.Contains(notice.Text, "new@example.com") {
		t.Errorf("got the full new address in the notice to the old one, want it masked: %q", notice.Text)
	}
	expect(t, c.get("/me/"), http.StatusUnauthorized, "invalid_token")
	expect(t, e.client().post("/login/", map[string]string{"email": "old@example.com", "password": goodPassword}), http.StatusUnauthorized, "invalid_credentials")
	c = e.loggedIn("new@example.com", goodPassword)

	// POST confirms, and the address may be taken meanwhile.
	expect(t, c.post("/change-email/", map[string]string{"new_email": "third@example.com", "password": goodPassword}), http.StatusOK, "")
	q3 := linkParams(t, coreLastMail(e, "third@example.com", mail.KindEmailChangeConfirm))
	expect(t, e.client().post("/signup/", map[string]string{"email": "third@example.com", "password": goodPassword}), http.StatusCreated, "")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q3.Get("token")}), http.StatusConflict, "email_taken")
	expect(t, c.post("/change-email/", map[string]string{"new_email": "fourth@example.com", "password": goodPassword}), http.StatusOK, "")
	q4 := linkParams(t, coreLastMail(e, "fourth@example.com", mail.KindEmailChangeConfirm))
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q4.Get("token")}), http.StatusOK, "")
	if got := coreUser(e, "fourth@example.com").ID; got != u.ID {
		t.Errorf("got user %s at fourth@example.com, want %s", got, u.ID)
	}
	if !e.events.has("email_change_requested") || !e.events.has("email_changed") {
		t.Errorf("got events %v, want email_change_requested and email_changed", e.events.kinds())
	}

	t.Run("expired", func(t *testing.T) {
		c := e.loggedIn("fourth@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "fifth@example.com", "password": goodPassword}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "fifth@example.com", mail.KindEmailChangeConfirm))
		e.clock.Advance(time.Hour + time.Second)
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		coreUser(e, "fourth@example.com")
	})
	t.Run("password changed since", func(t *testing.T) {
		c := e.loggedIn("fourth@example.com", goodPassword)
		expect(t, c.post("/change-email/", map[string]string{"new_email": "sixth@example.com", "password": goodPassword}), http.StatusOK, "")
		q := linkParams(t, coreLastMail(e, "sixth@example.com", mail.KindEmailChangeConfirm))
		expect(t, c.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "changed my mind about it"}), http.StatusOK, "")
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}), http.StatusBadRequest, "invalid_token")
		coreUser(e, "fourth@example.com")
	})
}

func TestCoreChangeEmailConfirmRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false)
	e.signupVerified("user@example.com", goodPassword)
	c := e.loggedIn("user@example.com", goodPassword)
	expect(t, c.post("/change-email/", map[string]string{"new_email": "new@example.com", "password": goodPassword}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "new@example.com", mail.KindEmailChangeConfirm))
	tv := coreUser(e, "user@example.com").TokenVersion
	notices := len(coreMails(e, "user@example.com", mail.KindEmailChangedNotice))
	// The confirmations race for the link's claim in the pending store
	// (and the winner then for the user write): exactly one changes the
	// email. No barrier on the user write: only the claim's winner gets
	// there.
	const n = 20
	_ = spy
	rs := coreParallel(n, func(int) response {
		return e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")})
	})
	coreOneWinner(t, rs)
	if got := coreUser(e, "new@example.com").TokenVersion; got != tv+1 {
		t.Errorf("got TokenVersion %d, want %d (one change)", got, tv+1)
	}
	if got := len(coreMails(e, "user@example.com", mail.KindEmailChangedNotice)); got != notices+1 {
		t.Errorf("got %d change notices, want 1", got-notices)
	}
}

func TestCoreLinksIgnoreHost(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	hostile := []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "Forwarded", "host=evil.example;proto=http"}
	check := func(to, kind, prefix string) {
		t.Helper()
		m := coreLastMail(e, to, kind)
		for _, l := range m.Links {
			if strings.Contains(l, "evil") || !strings.HasPrefix(l, prefix) {
				t.Errorf("%s: got link %q, want it under %s", kind, l, prefix)
			}
		}
		if strings.Contains(m.Text+m.HTML, "evil.example") {
			t.Errorf("%s: the mail mentions the hostile host", kind)
		}
	}
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
	check("new@example.com", mail.KindVerifyAccount, coreFrontend+"/verify-account?")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "user@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
	check("user@example.com", mail.KindSignupAttempt, coreFrontend+"/reset-password")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/verify-account/resend/", map[string]string{"email": "new@example.com"}, hostile...), http.StatusOK, "")
	check("new@example.com", mail.KindVerifyAccount, coreFrontend+"/verify-account?")
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/password-reset/", map[string]string{"email": "user@example.com"}, hostile...), http.StatusOK, "")
	check("user@example.com", mail.KindPasswordReset, coreFrontend+"/reset-password?")
	c := e.loggedIn("user@example.com", goodPassword)
	hdr := append([]string{"Cookie", coreCookieHeader("access_token", c.accessCookie())}, hostile...)
	expect(t, coreRaw(e, http.MethodPost, "/api/auth/change-email/", map[string]string{"new_email": "moved@example.com", "password": goodPassword}, hdr...), http.StatusOK, "")
	check("moved@example.com", mail.KindEmailChangeConfirm, coreFrontend+"/confirm-email-change?")

	t.Run("FrontendURL with a path", func(t *testing.T) {
		e := newEnv(t, func(c *authsys.Config) {
			c.Links.FrontendURL = "https://example.com/app/"
			c.Links.VerifyAccountPath = "/account/verify"
		})
		expect(t, coreRaw(e, http.MethodPost, "/api/auth/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, hostile...), http.StatusCreated, "")
		if l := coreLastMail(e, "new@example.com", mail.KindVerifyAccount).Links[0]; !strings.HasPrefix(l, "https://example.com/app/account/verify?") {
			t.Errorf("got link %q, want https://example.com/app/account/verify?...", l)
		}
	})
}

// TestEmailChangeNewestRequestWins: a newer request kills the link of an
// older one (a mistyped first address cannot take the account's email
// later), DELETE /change-email/ cancels the pending change, and the
// current address hears of every request at once, with a password reset
// link that also kills the change.
func TestEmailChangeNewestRequestWins(t *testing.T) {
	e := newEnv(t)
	e.signupVerified("owner@example.com", goodPassword)
	c := e.loggedIn("owner@example.com", goodPassword)
	change := func(to string) url.Values {
		t.Helper()
		expect(t, c.post("/change-email/", map[string]string{"new_email": to, "password": goodPassword}), http.StatusOK, "")
		notice := coreLastMail(e, "owner@example.com", mail.KindEmailChangeRequested)
		if !strings.Contains(notice.Text, mail.MaskEmail(to)) {
			t.Errorf("the notice to the current address does not name %s masked: %q", to, notice.Text)
		}
		return linkParams(t, coreLastMail(e, to, mail.KindEmailChangeConfirm))
	}
	first := change("typo@example.com")
	second := change("right@example.com")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": first.Get("token")}), http.StatusBadRequest, "invalid_token")
	if got := coreUser(e, "owner@example.com"); got.Email != "owner@example.com" {
		t.Fatalf("an older link changed the email to %s", got.Email)
	}
	// Cancelled: the newest link dies too.
	expect(t, c.do(http.MethodDelete, "/api/auth/change-email/", nil), http.StatusOK, "")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": second.Get("token")}), http.StatusBadRequest, "invalid_token")
	// A new request works; the reset link of its notice kills it.
	third := change("final@example.com")
	reset := linkParams(t, coreLastMail(e, "owner@example.com", mail.KindEmailChangeRequested))
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": reset.Get("uid"), "token": reset.Get("token"), "new_password": "another long passphrase"}), http.StatusOK, "")
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": third.Get("token")}), http.StatusBadRequest, "invalid_token")
	// Without a reset, the newest link works once.
	c = e.loggedIn("owner@example.com", "another long passphrase")
	expect(t, c.post("/change-email/", map[string]string{"new_email": "last@example.com", "password": "another long passphrase"}), http.StatusOK, "")
	last := linkParams(t, coreLastMail(e, "last@example.com", mail.KindEmailChangeConfirm))
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": last.Get("token")}), http.StatusOK, "")
	if got := coreUser(e, "last@example.com"); got.Email != "last@example.com" {
		t.Fatalf("got email %s, want last@example.com", got.Email)
	}
}

// TestEmailChangeNewerRequestRacingAConfirmation: a newer request that
// lands while an older link is being confirmed either kills that link
// (it came first) or comes after the confirmation (and then its own link
// dies, the address having changed meanwhile): never both links alive and
// the older one winning after the newer request was answered.
func TestEmailChangeNewerRequestRacingAConfirmation(t *testing.T) {
	var spy *authtest.Spy
	e := newEnv(t, spyOn(&spy))
	e.signupVerified("owner@example.com", goodPassword)
	c := e.loggedIn("owner@example.com", goodPassword)
	uid := coreUser(e, "owner@example.com").ID
	expect(t, c.post("/change-email/", map[string]string{"new_email": "typo@example.com", "password": goodPassword}), http.StatusOK, "")
	older := linkParams(t, coreLastMail(e, "typo@example.com", mail.KindEmailChangeConfirm))
	newer := 0
	hookOnce(spy, func() { // just before the confirmation's user write
		newer = c.post("/change-email/", map[string]string{"new_email": "right@example.com", "password": goodPassword}).StatusCode
	})
	r := e.client().post("/change-email-confirm/", map[string]string{"token": older.Get("token")})
	if newer != http.StatusOK {
		t.Fatalf("the newer request got %d, want 200", newer)
	}
	u, err := e.store.UserByID(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	email := u.Email
	if r.StatusCode == http.StatusOK {
		// The confirmation came first: the newer request's link is dead.
		link := linkParams(t, coreLastMail(e, "right@example.com", mail.KindEmailChangeConfirm))
		expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": link.Get("token")}), http.StatusBadRequest, "invalid_token")
		return
	}
	if email != "owner@example.com" {
		t.Fatalf("the older link was refused but the email is %s", email)
	}
}

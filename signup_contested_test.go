package authsys_test

import (
	"net/http"
	"testing"

	"github.com/authsys-go/authsys/mail"
)

// TestSignupPreHijack: an attacker signs up first with the victim's
// address and a password of their own, then the victim signs up with
// theirs and verifies the address. The attacker's password must never
// become usable: the contested signup keeps neither password, the
// attacker's earlier link dies, and verification sends the address's
// owner a link to choose the password.
func TestSignupPreHijack(t *testing.T) {
	e := newEnv(t)
	const victim, attackerPW, victimPW, chosen = "victim@example.com", "attacker chosen passphrase", "the victims own passphrase", "chosen after verification"
	attacker := e.client()
	expect(t, attacker.post("/signup/", map[string]string{"email": victim, "password": attackerPW}), http.StatusCreated, "")
	first := linkParams(t, e.waitMail(victim))

	v := e.client()
	r := v.post("/signup/", map[string]string{"email": victim, "password": victimPW})
	expect(t, r, http.StatusCreated, "")
	q := linkParams(t, e.waitMail(victim))
	if q.Get("token") == first.Get("token") {
		t.Fatal("the second signup sent the first link again")
	}
	// The link the attacker could have seen (had they access to it) is
	// dead, and so is any older one.
	expect(t, v.post("/verify-account/", map[string]string{"uid": first.Get("uid"), "token": first.Get("token")}), http.StatusBadRequest, "invalid_token")

	r = v.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	expect(t, r, http.StatusOK, "")
	if msg, _ := r.json(t)["message"].(string); msg == "" || msg == "Your account is verified; you can log in." {
		t.Errorf("got message %q, want the one that asks to choose a password", msg)
	}
	expect(t, attacker.post("/login/", map[string]string{"email": victim, "password": attackerPW}), http.StatusUnauthorized, "invalid_credentials")
	expect(t, v.post("/login/", map[string]string{"email": victim, "password": victimPW}), http.StatusUnauthorized, "invalid_credentials")

	reset := linkParams(t, coreLastMail(e, victim, mail.KindPasswordReset))
	expect(t, v.post("/password-reset-confirm/", map[string]string{"uid": reset.Get("uid"), "token": reset.Get("token"), "new_password": chosen}), http.StatusOK, "")
	expect(t, v.post("/login/", map[string]string{"email": victim, "password": chosen}), http.StatusOK, "")
	if !e.events.has("signup_existing_email") {
		t.Errorf("got events %v, want signup_existing_email", e.events.kinds())
	}
}

// TestSignupTwiceSamePassword: the same person submitting the signup form
// twice (same password) keeps the password, and either link verifies.
func TestSignupTwiceSamePassword(t *testing.T) {
	e := newEnv(t)
	const email = "twice@example.com"
	c := e.client()
	for range 2 {
		expect(t, c.post("/signup/", map[string]string{"email": email, "password": goodPassword}), http.StatusCreated, "")
	}
	q := linkParams(t, e.waitMail(email))
	r := c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")})
	expect(t, r, http.StatusOK, "")
	if msg, _ := r.json(t)["message"].(string); msg != "Your account is verified; you can log in." {
		t.Errorf("got message %q, want the plain one", msg)
	}
	expect(t, c.post("/login/", map[string]string{"email": email, "password": goodPassword}), http.StatusOK, "")
	if n := len(coreMails(e, email, mail.KindPasswordReset)); n != 0 {
		t.Errorf("got %d reset mails, want none", n)
	}
}

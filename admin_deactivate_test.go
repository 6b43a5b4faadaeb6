package authsys_test

import (
	"net/http"
	"testing"
)

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

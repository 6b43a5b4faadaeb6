package authsys_test

// Helpers of the 2FA tests (twofactor_*_test.go). Names start with tfa.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/totp"
)

// tfaUser is an account with 2FA enabled.
type tfaUser struct {
	email  string
	c      *client // logged in before 2FA was enabled; its cookies stay valid
	secret string
	backup []string
}

// tfaSetup posts /2fa/setup/ and returns the new secret.
func (c *client) tfaSetup() string {
	c.e.t.Helper()
	r := c.post("/2fa/setup/", nil)
	expect(c.e.t, r, http.StatusOK, "")
	secret, _ := r.json(c.e.t)["secret"].(string)
	if secret == "" {
		c.e.t.Fatalf("setup returned no secret: %s", r.body)
	}
	return secret
}

// tfaEnabled signs up email, logs in, sets up 2FA and enables it with the
// code of the current step, which is then used.
func (e *env) tfaEnabled(email string) *tfaUser {
	e.t.Helper()
	e.signupVerified(email, goodPassword)
	u := &tfaUser{email: email, c: e.loggedIn(email, goodPassword)}
	u.secret = u.c.tfaSetup()
	r := u.c.post("/2fa/enable/", map[string]string{"code": tfaCodeAt(e.t, u.secret, e.clock.Now())})
	expect(e.t, r, http.StatusOK, "")
	u.backup = tfaCodes(e.t, r)
	return u
}

// tfaCodes returns the backup_codes of a response.
func tfaCodes(t *testing.T, r response) []string {
	t.Helper()
	var body struct {
		BackupCodes []string `json:"backup_codes"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("backup codes response: %v: %s", err, r.body)
	}
	if len(body.BackupCodes) != 10 {
		t.Fatalf("got %d backup codes, want 10: %s", len(body.BackupCodes), r.body)
	}
	return body.BackupCodes
}

// tfaCodeAt returns the TOTP code of secret at t.
func tfaCodeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.Code(secret, at)
	if err != nil {
		t.Fatalf("totp.Code: %v", err)
	}
	return code
}

// tfaFreshCode moves the clock to the next TOTP step and returns its code,
// so that it is newer than every code used before.
func (e *env) tfaFreshCode(secret string) string {
	e.t.Helper()
	e.clock.Advance(totp.Period)
	return tfaCodeAt(e.t, secret, e.clock.Now())
}

// tfaLogin logs in with the password of a 2FA account from a fresh client
// and returns the client and the pending session token; it checks that no
// cookie was set.
func (e *env) tfaLogin(email string) (*client, string) {
	e.t.Helper()
	c := e.client()
	r := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(e.t, r, http.StatusOK, "")
	var body struct {
		Requires2FA  *bool          `json:"requires_2fa"`
		SessionToken string         `json:"session_token"`
		User         map[string]any `json:"user"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		e.t.Fatal(err)
	}
	if body.Requires2FA == nil || !*body.Requires2FA || body.SessionToken == "" || body.User != nil {
		e.t.Fatalf("login of a 2FA account: got %s, want requires_2fa true, a session_token and no user", r.body)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		e.t.Fatalf("login of a 2FA account set cookies %q, want none before the second factor", sc)
	}
	return c, body.SessionToken
}

// tfaVerify posts /2fa/verify-login/.
func (c *client) tfaVerify(token, code string) response {
	c.e.t.Helper()
	return c.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": code})
}

// tfaRemaining returns the number of unused backup codes from
// GET /2fa/backup-codes/.
func (c *client) tfaRemaining() int {
	c.e.t.Helper()
	r := c.get("/2fa/backup-codes/")
	expect(c.e.t, r, http.StatusOK, "")
	var body struct{ Remaining int }
	if err := json.Unmarshal(r.body, &body); err != nil {
		c.e.t.Fatal(err)
	}
	return body.Remaining
}

// tfaOutcome is the result of a request made off the test goroutine, where
// t.Fatal must not be called.
type tfaOutcome struct {
	status  int
	code    string // problem code
	cookies int    // Set-Cookie headers
	body    []byte
	err     error
}

// tfaPost posts body as JSON to the auth API through hc, safe to call from
// any goroutine. Like client.do it runs the harness checks on the call
// (harnessSend).
func (e *env) tfaPost(hc *http.Client, path string, body any) tfaOutcome {
	raw, err := json.Marshal(body)
	if err != nil {
		return tfaOutcome{err: err}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/auth"+path, bytes.NewReader(raw))
	if err != nil {
		return tfaOutcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	res, b, err := e.harnessSend(hc, req, raw)
	if err != nil {
		return tfaOutcome{err: err}
	}
	var p struct{ Code string }
	_ = json.Unmarshal(b, &p)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		err = &tfaNotProblem{res.StatusCode, res.Header.Get("Content-Type")}
	}
	return tfaOutcome{status: res.StatusCode, code: p.Code, cookies: len(res.Header.Values("Set-Cookie")), body: b, err: err}
}

type tfaNotProblem struct {
	status int
	ct     string
}

func (e *tfaNotProblem) Error() string {
	return "status " + http.StatusText(e.status) + " with Content-Type " + e.ct + ", want application/problem+json"
}

// tfaTally counts outcomes by "status code".
func tfaTally(outs []tfaOutcome) map[string]int {
	m := map[string]int{}
	for _, o := range outs {
		m[strings.TrimSpace(http.StatusText(o.status)+" "+o.code)]++
	}
	return m
}

// tfaUnmarshal decodes JSON or fails the test.
func tfaUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

package authsys_test

// Passkeys: every ceremony (register, login, second factor,
// re-authentication), their management and admin endpoints, and the
// attacks on them, with a software authenticator that signs as a platform
// authenticator would: an ECDSA P-256 key, attestation format "none".

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/postgres"
	"github.com/authsys-go/authsys/store/sqlite"
)

// pkRPID and pkOrigin are the relying party of the passkey envs: the
// origin is the default, Links.FrontendURL's.
const (
	pkRPID   = "app.example.com"
	pkOrigin = "https://app.example.com"
)

// Authenticator data flags.
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backed up
	flagAT = 0x40 // attested credential data included
)

// pkEnv returns an env with passkeys on for pkRPID; mutate adjusts the
// Config after.
func pkEnv(t *testing.T, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) {
		c.Passkeys = authsys.Passkeys{RPID: pkRPID}
	}}, mutate...)...)
}

// authenticator is a software authenticator holding one discoverable
// credential: an ECDSA P-256 key, its credential ID and the user handle
// it was created for.
type authenticator struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	credID []byte
	handle []byte
	// counter is the signature counter of the next signature; it moves on
	// by one after each, unless fixed is set.
	counter uint32
	fixed   bool
	// flags of the next authenticator data: UP|UV by default.
	flags byte
}

func newAuthenticator(t *testing.T) *authenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &authenticator{t: t, key: key, credID: id, counter: 1, flags: flagUP | flagUV}
}

// ceremonyOpts changes what the authenticator (or the browser) puts in an
// answer, for the attacks.
type ceremonyOpts struct {
	origin    string // default pkOrigin
	rpID      string // whose hash the authenticator data carries; default pkRPID
	challenge string // default the options' challenge
	typ       string // the client data type; default webauthn.create or webauthn.get
	flags     *byte  // default the authenticator's flags
	tamper    bool   // flip a bit of the signature
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// publicKey reads the "publicKey" member of a begin answer.
func publicKey(t *testing.T, r response) map[string]any {
	t.Helper()
	expect(t, r, http.StatusOK, "")
	pk, ok := r.json(t)["publicKey"].(map[string]any)
	if !ok {
		t.Fatalf("begin answer without publicKey: %s", r.body)
	}
	return pk
}

// clientData returns the client data JSON of a ceremony.
func (a *authenticator) clientData(typ, challenge string, o ceremonyOpts) []byte {
	if o.typ != "" {
		typ = o.typ
	}
	if o.challenge != "" {
		challenge = o.challenge
	}
	origin := pkOrigin
	if o.origin != "" {
		origin = o.origin
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// authData returns the authenticator data: the RP ID hash, the flags, the
// counter and, when attested is set, the credential and its public key.
func (a *authenticator) authData(o ceremonyOpts, attested bool) []byte {
	rpID := pkRPID
	if o.rpID != "" {
		rpID = o.rpID
	}
	h := sha256.Sum256([]byte(rpID))
	flags := a.flags
	if o.flags != nil {
		flags = *o.flags
	}
	if attested {
		flags |= flagAT
	}
	out := append([]byte(nil), h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	if !a.fixed {
		a.counter++
	}
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: unknown
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		out = append(out, a.coseKey()...)
	}
	return out
}

// coseKey is the credential's public key as a COSE_Key (EC2, ES256).
func (a *authenticator) coseKey() []byte {
	x := make([]byte, 32)
	y := make([]byte, 32)
	a.key.PublicKey.X.FillBytes(x)
	a.key.PublicKey.Y.FillBytes(y)
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// create answers the creation options of a register begin call as
// navigator.credentials.create() would, and returns the credential JSON.
func (a *authenticator) create(options map[string]any, o ceremonyOpts) map[string]any {
	a.t.Helper()
	user, _ := options["user"].(map[string]any)
	handle, _ := user["id"].(string)
	a.handle = unb64(a.t, handle)
	challenge, _ := options["challenge"].(string)
	cdj := a.clientData("webauthn.create", challenge, o)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(o, true)})
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64(cdj), "attestationObject": b64(att), "transports": []string{"internal", "hybrid"},
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}
}

// get answers the request options of a login, 2fa or reauth begin call as
// navigator.credentials.get() would, and returns the credential JSON.
func (a *authenticator) get(options map[string]any, o ceremonyOpts) map[string]any {
	a.t.Helper()
	challenge, _ := options["challenge"].(string)
	cdj := a.clientData("webauthn.get", challenge, o)
	ad := a.authData(o, false)
	sum := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	if o.tamper {
		sig[len(sig)-1] ^= 1
	}
	return map[string]any{
		"id": b64(a.credID), "rawId": b64(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64(cdj), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64(a.handle),
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}
}

// pkRegister registers a new authenticator's passkey for the logged-in
// client c (fresh) and returns it with the passkey's view.
func pkRegister(e *env, c *client) (*authenticator, map[string]any) {
	e.t.Helper()
	a := newAuthenticator(e.t)
	opts := publicKey(e.t, c.post("/passkeys/register/begin/", nil))
	r := c.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})})
	expect(e.t, r, http.StatusCreated, "")
	pk, _ := r.json(e.t)["passkey"].(map[string]any)
	return a, pk
}

// pkLogin logs in with a's passkey from a new client; it returns the
// client and the finish answer.
func pkLogin(e *env, a *authenticator, o ceremonyOpts) (*client, response) {
	e.t.Helper()
	c := e.client()
	opts := publicKey(e.t, c.post("/passkeys/login/begin/", nil))
	return c, c.post("/passkeys/login/finish/", map[string]any{"credential": a.get(opts, o)})
}

// TestPasskeyRegisterAndLogin: a logged-in user registers a passkey, and
// a new browser logs in with it alone: no email, no password, and the
// session is fresh.
func TestPasskeyRegisterAndLogin(t *testing.T) {
	e := pkEnv(t)
	e.signupVerified("ana@example.com", goodPassword)
	c := e.loggedIn("ana@example.com", goodPassword)
	a, view := pkRegister(e, c)
	if view["id"] == "" || view["name"] != "Go client on Unknown system" || view["last_used_at"] != nil {
		t.Errorf("registered passkey: got %v, want an id, the device's name and no last use", view)
	}
	r := c.get("/passkeys/")
	expect(t, r, http.StatusOK, "")
	if list, _ := r.json(t)["passkeys"].([]any); len(list) != 1 {
		t.Fatalf("GET /passkeys/: got %s, want one passkey", r.body)
	}

	b, r := pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
	if u, _ := r.json(t)["user"].(map[string]any); u["email"] != "ana@example.com" {
		t.Fatalf("passkey login: got %s, want ana's user", r.body)
	}
	expect(t, b.get("/me/"), http.StatusOK, "")
	// Fresh: a sensitive action goes through without re-authentication.
	expect(t, b.post("/2fa/setup/", nil), http.StatusOK, "")
	if ev, ok := coreLastEvent(e, authsys.EventLoginSucceeded); !ok || ev.Reason != "passkey" {
		t.Errorf("login_succeeded event: got %+v, want reason passkey", ev)
	}
	for _, kind := range []string{authsys.EventPasskeyAdded, authsys.EventPasskeyUsed} {
		if !e.events.has(kind) {
			t.Errorf("no %s event", kind)
		}
	}
}

// pkUser signs up and verifies email, logs in with the password and
// registers a passkey; it returns the logged-in client, the authenticator
// and the passkey's view.
func pkUser(e *env, email string) (*client, *authenticator, map[string]any) {
	e.t.Helper()
	e.signupVerified(email, goodPassword)
	c := e.loggedIn(email, goodPassword)
	a, view := pkRegister(e, c)
	return c, a, view
}

// pkNoSession checks that r set no session cookie.
func pkNoSession(t *testing.T, r response) {
	t.Helper()
	for _, ck := range r.Cookies() {
		if (ck.Name == "access_token" || ck.Name == "refresh_token") && ck.Value != "" {
			t.Errorf("a refused answer set the %s cookie", ck.Name)
		}
	}
}

func pkFlags(f byte) *byte { return &f }

// TestPasskeyLoginRefusals: every answer a login must refuse, refused
// without a session: 401 invalid_credentials as a wrong password, or 403
// for an inactive account.
func TestPasskeyLoginRefusals(t *testing.T) {
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	tests := []struct {
		name string
		// prepare may change the state before the login; it returns the
		// options of the ceremony to answer (nil: a login begin) and the
		// authenticator that answers.
		prepare func(e *env, c *client, a *authenticator) (map[string]any, *authenticator)
		o       ceremonyOpts
		status  int
		code    string
	}{
		{name: "another origin", o: ceremonyOpts{origin: "https://evil.example.com"}},
		{name: "another port of the origin", o: ceremonyOpts{origin: "https://app.example.com:8443"}},
		{name: "a parent domain as origin", o: ceremonyOpts{origin: "https://example.com"}},
		{name: "another RP ID hash", o: ceremonyOpts{rpID: "evil.example.com"}},
		{name: "no user verification", o: ceremonyOpts{flags: pkFlags(flagUP)}},
		{name: "no user presence", o: ceremonyOpts{flags: pkFlags(flagUV)}},
		{name: "a challenge never given", o: ceremonyOpts{challenge: b64(random)}},
		{name: "a create answer", o: ceremonyOpts{typ: "webauthn.create"}},
		{name: "a tampered signature", o: ceremonyOpts{tamper: true}},
		{name: "the challenge of a registration", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			return publicKey(e.t, c.post("/passkeys/register/begin/", nil)), a
		}},
		{name: "the challenge of a re-authentication", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			return publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil)), a
		}},
		{name: "an expired challenge", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			opts := publicKey(e.t, e.client().post("/passkeys/login/begin/", nil))
			e.clock.Advance(5*time.Minute + time.Second)
			return opts, a
		}},
		{name: "an unregistered authenticator", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			other := newAuthenticator(e.t)
			other.handle = a.handle
			return nil, other
		}},
		{name: "the user handle of another account", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			_, b, _ := pkUser(e, "other@example.com")
			a.handle = b.handle
			return nil, a
		}},
		{name: "a removed passkey", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			r := c.get("/passkeys/")
			id := r.json(e.t)["passkeys"].([]any)[0].(map[string]any)["id"].(string)
			expect(e.t, c.do(http.MethodDelete, "/api/auth/passkeys/"+id+"/", nil), http.StatusOK, "")
			return nil, a
		}},
		{name: "a cloned authenticator (counter behind)", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			_, r := pkLogin(e, a, ceremonyOpts{})
			expect(e.t, r, http.StatusOK, "")
			a.counter -= 2
			return nil, a
		}},
		{name: "a cloned authenticator (counter equal)", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			_, r := pkLogin(e, a, ceremonyOpts{})
			expect(e.t, r, http.StatusOK, "")
			a.counter--
			return nil, a
		}},
		{name: "a counter back at zero", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			a.counter, a.fixed = 0, true
			return nil, a
		}},
		{name: "a deactivated account", status: http.StatusForbidden, code: "account_inactive", prepare: func(e *env, c *client, a *authenticator) (map[string]any, *authenticator) {
			coreSetUser(e, "ana@example.com", func(u *authsys.User) { u.IsActive, u.Disabled = false, true })
			return nil, a
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := pkEnv(t)
			c, a, _ := pkUser(e, "ana@example.com")
			var opts map[string]any
			if tt.prepare != nil {
				opts, a = tt.prepare(e, c, a)
			}
			b := e.client()
			if opts == nil {
				opts = publicKey(t, b.post("/passkeys/login/begin/", nil))
			}
			clones := len(adminEventsOf(e, authsys.EventPasskeyCloneDetected))
			r := b.post("/passkeys/login/finish/", map[string]any{"credential": a.get(opts, tt.o)})
			status, code := tt.status, tt.code
			if status == 0 {
				status, code = http.StatusUnauthorized, "invalid_credentials"
			}
			expect(t, r, status, code)
			pkNoSession(t, r)
			if b.accessCookie() != "" {
				t.Errorf("a refused login left an access cookie")
			}
			wantClone := strings.Contains(tt.name, "clone") || strings.Contains(tt.name, "zero")
			if got := len(adminEventsOf(e, authsys.EventPasskeyCloneDetected)) - clones; (got > 0) != wantClone {
				t.Errorf("passkey_clone_detected events: got %d, want them %v", got, wantClone)
			}
		})
	}
}

// TestPasskeyChallengeOnce: a challenge answers once, and of many
// concurrent finish calls answering one challenge exactly one logs in. The
// authenticator keeps no counter (it signs 0, as synced passkeys do), so
// that nothing but the challenge stops a replay.
func TestPasskeyChallengeOnce(t *testing.T) {
	e := pkEnv(t)
	e.signupVerified("ana@example.com", goodPassword)
	a := newAuthenticator(t)
	a.counter, a.fixed = 0, true
	c := e.loggedIn("ana@example.com", goodPassword)
	opts := publicKey(t, c.post("/passkeys/register/begin/", nil))
	expect(t, c.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})}), http.StatusCreated, "")

	// The same challenge answered again, the answer itself or a new one.
	b := e.client()
	opts = publicKey(t, b.post("/passkeys/login/begin/", nil))
	answer := map[string]any{"credential": a.get(opts, ceremonyOpts{})}
	expect(t, b.post("/passkeys/login/finish/", answer), http.StatusOK, "")
	expect(t, e.client().post("/passkeys/login/finish/", answer), http.StatusUnauthorized, "invalid_credentials")
	expect(t, e.client().post("/passkeys/login/finish/", map[string]any{"credential": a.get(opts, ceremonyOpts{})}), http.StatusUnauthorized, "invalid_credentials")

	for round := range 3 {
		opts := publicKey(t, e.client().post("/passkeys/login/begin/", nil))
		const n = 12
		answers := make([]map[string]any, n)
		for i := range answers {
			answers[i] = map[string]any{"credential": a.get(opts, ceremonyOpts{})}
		}
		rs := coreParallel(n, func(i int) response { return e.client().post("/passkeys/login/finish/", answers[i]) })
		wins := 0
		for i, r := range rs {
			switch {
			case r.StatusCode == http.StatusOK:
				wins++
			case r.StatusCode != http.StatusUnauthorized || r.code() != "invalid_credentials":
				t.Errorf("round %d, request %d: got %d %s, want 200 or 401 invalid_credentials", round, i, r.StatusCode, r.body)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d concurrent answers to one challenge logged in, want exactly 1", round, wins, n)
		}
	}
}

// TestPasskeyConcurrentCounter: two answers of one authenticator with the
// same counter, to two challenges, finished at once: one logs in, the
// other is a clone.
func TestPasskeyConcurrentCounter(t *testing.T) {
	e := pkEnv(t)
	_, a, _ := pkUser(e, "ana@example.com")
	for round := range 3 {
		const n = 6
		answers := make([]map[string]any, n)
		count := a.counter
		for i := range answers {
			opts := publicKey(t, e.client().post("/passkeys/login/begin/", nil))
			a.counter = count
			answers[i] = map[string]any{"credential": a.get(opts, ceremonyOpts{})}
		}
		rs := coreParallel(n, func(i int) response { return e.client().post("/passkeys/login/finish/", answers[i]) })
		wins := 0
		for _, r := range rs {
			if r.StatusCode == http.StatusOK {
				wins++
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d answers with one counter logged in, want exactly 1", round, wins, n)
		}
		if got := len(adminEventsOf(e, authsys.EventPasskeyCloneDetected)); got != (round+1)*(n-1) {
			t.Errorf("round %d: got %d passkey_clone_detected events in all, want %d", round, got, (round+1)*(n-1))
		}
	}
}

// pkPending logs in as email with the password from a new client and
// returns the client and the pending login's token; it checks the login
// asks for a second factor among methods want.
func pkPending(e *env, email string, want ...string) (*client, string) {
	e.t.Helper()
	c := e.client()
	r := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(e.t, r, http.StatusOK, "")
	var body struct {
		Requires2FA  bool     `json:"requires_2fa"`
		SessionToken string   `json:"session_token"`
		Methods      []string `json:"methods"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		e.t.Fatal(err)
	}
	if !body.Requires2FA || body.SessionToken == "" || !slices.Equal(body.Methods, want) {
		e.t.Fatalf("password login of %s: got %s, want a pending login with methods %q", email, r.body, want)
	}
	pkNoSession(e.t, r)
	return c, body.SessionToken
}

// pk2FA answers the 2fa ceremony of the pending login token with a.
func pk2FA(e *env, c *client, a *authenticator, token string, o ceremonyOpts) response {
	e.t.Helper()
	opts := publicKey(e.t, c.post("/passkeys/2fa/begin/", map[string]string{"session_token": token}))
	return c.post("/passkeys/2fa/finish/", map[string]any{"session_token": token, "credential": a.get(opts, o)})
}

// TestPasskeySecondFactor: an account with a passkey has a second factor:
// its password login is pending until a passkey of the account answers,
// without user verification (the password was the other factor).
func TestPasskeySecondFactor(t *testing.T) {
	e := pkEnv(t)
	_, a, _ := pkUser(e, "ana@example.com")
	c, token := pkPending(e, "ana@example.com", "passkey")
	opts := publicKey(t, c.post("/passkeys/2fa/begin/", map[string]string{"session_token": token}))
	allowed, _ := opts["allowCredentials"].([]any)
	if len(allowed) != 1 || allowed[0].(map[string]any)["id"] != b64(a.credID) || opts["userVerification"] != "preferred" {
		t.Errorf("2fa options: got allowCredentials %v and userVerification %v, want ana's passkey, preferred", allowed, opts["userVerification"])
	}
	r := c.post("/passkeys/2fa/finish/", map[string]any{"session_token": token, "credential": a.get(opts, ceremonyOpts{flags: pkFlags(flagUP)}), "remember_device": true})
	expect(t, r, http.StatusOK, "")
	if u, _ := r.json(t)["user"].(map[string]any); u["email"] != "ana@example.com" {
		t.Fatalf("2fa finish: got %s, want ana's user", r.body)
	}
	expect(t, c.get("/me/"), http.StatusOK, "")
	expect(t, c.post("/sessions/revoke-others/", nil), http.StatusOK, "") // fresh
	if ev, ok := coreLastEvent(e, authsys.EventTwoFactorUsed); !ok || ev.Reason != "passkey" {
		t.Errorf("two_factor_used event: got %+v, want reason passkey", ev)
	}
	if c.cookie("trusted_device", "/api/auth/login/") == "" {
		t.Errorf("remember_device set no trusted_device cookie")
	}
	// The pending login is used up.
	expect(t, pk2FAStale(e, c, a, token), http.StatusUnauthorized, "session_expired")

	// TOTP and a passkey: either completes the login.
	bc, b, _ := pkUser(e, "bo@example.com")
	secret, _ := adminEnable2FA(e, bc)
	c, token = pkPending(e, "bo@example.com", "totp", "backup_code", "passkey")
	expect(t, pk2FA(e, c, b, token, ceremonyOpts{}), http.StatusOK, "")
	c, token = pkPending(e, "bo@example.com", "totp", "backup_code", "passkey")
	expect(t, c.tfaVerify(token, adminTOTP(e, secret)), http.StatusOK, "")
}

// pk2FAStale finishes a 2fa ceremony whose begin call must fail: it
// answers the options of a login begin instead.
func pk2FAStale(e *env, c *client, a *authenticator, token string) response {
	e.t.Helper()
	r := c.post("/passkeys/2fa/begin/", map[string]string{"session_token": token})
	if r.StatusCode == http.StatusOK {
		e.t.Fatalf("2fa begin of a used pending login: got %s, want a refusal", r.body)
	}
	return r
}

// TestPasskeySecondFactorRefusals: the answers the second factor refuses,
// each counted against the pending login, and the pending logins it
// refuses to prepare or complete.
func TestPasskeySecondFactorRefusals(t *testing.T) {
	type state struct {
		e       *env
		ana     *client // ana's password session
		a, b    *authenticator
		pending *client
		token   string
	}
	tests := []struct {
		name string
		// answer returns the body of the finish call.
		answer func(s *state) map[string]any
		status int
		code   string
	}{
		{name: "another account's passkey", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			return map[string]any{"session_token": s.token, "credential": s.b.get(opts, ceremonyOpts{})}
		}},
		{name: "another account's passkey on its own options", answer: func(s *state) map[string]any {
			// bob's pending login prepares a challenge for bob's passkey;
			// the answer comes with ana's pending login.
			_, bobToken := pkPending(s.e, "bob@example.com", "passkey")
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": bobToken}))
			return map[string]any{"session_token": s.token, "credential": s.b.get(opts, ceremonyOpts{})}
		}},
		{name: "the challenge of another pending login", answer: func(s *state) map[string]any {
			_, other := pkPending(s.e, "ana@example.com", "passkey")
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": other}))
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "the challenge of a login", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/login/begin/", nil))
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "another origin", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{origin: "https://evil.example.com"})}
		}},
		{name: "a passkey removed after the begin call", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			id := s.ana.get("/passkeys/").json(s.e.t)["passkeys"].([]any)[0].(map[string]any)["id"].(string)
			expect(s.e.t, s.ana.do(http.MethodDelete, "/api/auth/passkeys/"+id+"/", nil), http.StatusOK, "")
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "a cloned authenticator", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			s.a.counter = 1
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "a password changed since the password step", status: http.StatusUnauthorized, code: "session_expired", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			expect(s.e.t, s.ana.post("/change-password/", map[string]string{"current_password": goodPassword, "new_password": "an entirely new passphrase"}), http.StatusOK, "")
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "an account deactivated since the password step", status: http.StatusUnauthorized, code: "session_expired", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			coreSetUser(s.e, "ana@example.com", func(u *authsys.User) { u.IsActive, u.Disabled = false, true })
			return map[string]any{"session_token": s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
		{name: "an unknown pending login", status: http.StatusUnauthorized, code: "session_expired", answer: func(s *state) map[string]any {
			opts := publicKey(s.e.t, s.pending.post("/passkeys/2fa/begin/", map[string]string{"session_token": s.token}))
			return map[string]any{"session_token": "x" + s.token, "credential": s.a.get(opts, ceremonyOpts{})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := pkEnv(t)
			s := &state{e: e}
			s.ana, s.a, _ = pkUser(e, "ana@example.com")
			_, s.b, _ = pkUser(e, "bob@example.com")
			s.pending, s.token = pkPending(e, "ana@example.com", "passkey")
			failed := len(adminEventsOf(e, authsys.EventTwoFactorFailed))
			r := s.pending.post("/passkeys/2fa/finish/", tt.answer(s))
			status, code := tt.status, tt.code
			if status == 0 {
				status, code = http.StatusBadRequest, "passkey_invalid"
			}
			expect(t, r, status, code)
			pkNoSession(t, r)
			if status == http.StatusBadRequest && len(adminEventsOf(e, authsys.EventTwoFactorFailed)) == failed {
				t.Errorf("a refused answer emitted no two_factor_failed event")
			}
		})
	}
}

// TestPasskeySecondFactorAttempts: the 5th refused answer destroys the
// pending login, as the 5th wrong code does; an account without a passkey
// gets no ceremony.
func TestPasskeySecondFactorAttempts(t *testing.T) {
	e := pkEnv(t)
	_, a, _ := pkUser(e, "ana@example.com")
	c, token := pkPending(e, "ana@example.com", "passkey")
	for i := range 5 {
		expect(t, pk2FA(e, c, a, token, ceremonyOpts{origin: "https://evil.example.com"}), http.StatusBadRequest, "passkey_invalid")
		_ = i
	}
	expect(t, c.post("/passkeys/2fa/begin/", map[string]string{"session_token": token}), http.StatusUnauthorized, "session_expired")

	e.signupVerified("bo@example.com", goodPassword)
	bc := e.loggedIn("bo@example.com", goodPassword)
	adminEnable2FA(e, bc)
	c, token = pkPending(e, "bo@example.com", "totp", "backup_code")
	expect(t, c.post("/passkeys/2fa/begin/", map[string]string{"session_token": token}), http.StatusConflict, "conflict")
}

// pkStale moves the clock past the re-authentication window: the
// sessions of the env are no longer fresh.
func pkStale(e *env) { e.clock.Advance(11 * time.Minute) }

// pkReauth answers a reauth ceremony of c with a.
func pkReauth(e *env, c *client, a *authenticator, o ceremonyOpts) response {
	e.t.Helper()
	opts := publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil))
	return c.post("/passkeys/reauthenticate/finish/", map[string]any{"credential": a.get(opts, o)})
}

// TestPasskeyReauthenticate: a passkey confirms a session that is no
// longer fresh; an account whose second factor is a passkey cannot
// confirm with its password alone.
func TestPasskeyReauthenticate(t *testing.T) {
	e := pkEnv(t)
	c, a, view := pkUser(e, "ana@example.com")
	id := view["id"].(string)
	pkStale(e)
	c.post("/refresh/", nil) // a new access token, for the clock
	expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+id+"/", nil), http.StatusForbidden, "reauthentication_required")
	expect(t, c.post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusForbidden, "passkey_required")
	r := pkReauth(e, c, a, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
	if ev, ok := coreLastEvent(e, authsys.EventReauthenticated); !ok || ev.Reason != "passkey" {
		t.Errorf("reauthenticated event: got %+v, want reason passkey", ev)
	}
	expect(t, c.post("/sessions/revoke-others/", nil), http.StatusOK, "")

	// With TOTP on too, the password and a code still confirm.
	bc, _, _ := pkUser(e, "bo@example.com")
	secret, _ := adminEnable2FA(e, bc)
	pkStale(e)
	bc.post("/refresh/", nil)
	expect(t, bc.post("/sessions/revoke-others/", nil), http.StatusForbidden, "reauthentication_required")
	expect(t, bc.post("/reauthenticate/", map[string]string{"password": goodPassword, "code": adminTOTP(e, secret)}), http.StatusOK, "")
	expect(t, bc.post("/sessions/revoke-others/", nil), http.StatusOK, "")
}

// TestPasskeyReauthenticateRefusals: the answers a re-authentication
// refuses; the session stays stale.
func TestPasskeyReauthenticateRefusals(t *testing.T) {
	tests := []struct {
		name   string
		answer func(e *env, c *client, a *authenticator) map[string]any
	}{
		{"no user verification", func(e *env, c *client, a *authenticator) map[string]any {
			opts := publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil))
			return map[string]any{"credential": a.get(opts, ceremonyOpts{flags: pkFlags(flagUP)})}
		}},
		{"another origin", func(e *env, c *client, a *authenticator) map[string]any {
			opts := publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil))
			return map[string]any{"credential": a.get(opts, ceremonyOpts{origin: "https://evil.example.com"})}
		}},
		{"the challenge of another session of the user", nil},
		{"the challenge of another user", func(e *env, c *client, a *authenticator) map[string]any {
			bc, b, _ := pkUser(e, "bob@example.com")
			opts := publicKey(e.t, bc.post("/passkeys/reauthenticate/begin/", nil))
			return map[string]any{"credential": b.get(opts, ceremonyOpts{})}
		}},
		{"the challenge of a login", func(e *env, c *client, a *authenticator) map[string]any {
			opts := publicKey(e.t, e.client().post("/passkeys/login/begin/", nil))
			return map[string]any{"credential": a.get(opts, ceremonyOpts{})}
		}},
		{"a cloned authenticator", func(e *env, c *client, a *authenticator) map[string]any {
			opts := publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil))
			a.counter = 1
			return map[string]any{"credential": a.get(opts, ceremonyOpts{})}
		}},
		{"another account's passkey", func(e *env, c *client, a *authenticator) map[string]any {
			_, b, _ := pkUser(e, "bob@example.com")
			opts := publicKey(e.t, c.post("/passkeys/reauthenticate/begin/", nil))
			b.handle = a.handle
			return map[string]any{"credential": b.get(opts, ceremonyOpts{})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The challenges outlive the re-authentication window, so
			// that none is refused as expired.
			e := pkEnv(t, func(c *authsys.Config) { c.Passkeys.ChallengeTTL = time.Hour })
			c, a, _ := pkUser(e, "ana@example.com")
			var body map[string]any
			if strings.HasPrefix(tt.name, "the challenge of another session") {
				// A second session of ana, which she never began a
				// ceremony in, finishes the first session's.
				opts := publicKey(t, c.post("/passkeys/reauthenticate/begin/", nil))
				c = pkPasswordAndPasskey(e, "ana@example.com", a)
				body = map[string]any{"credential": a.get(opts, ceremonyOpts{})}
			} else {
				body = tt.answer(e, c, a)
			}
			pkStale(e)
			c.post("/refresh/", nil)
			r := c.post("/passkeys/reauthenticate/finish/", body)
			expect(t, r, http.StatusBadRequest, "passkey_invalid")
			expect(t, c.post("/sessions/revoke-others/", nil), http.StatusForbidden, "reauthentication_required")
		})
	}
}

// pkPasswordAndPasskey logs in as email with the password and a's passkey
// as the second factor, from a new client.
func pkPasswordAndPasskey(e *env, email string, a *authenticator) *client {
	e.t.Helper()
	c, token := pkPending(e, email, "passkey")
	expect(e.t, pk2FA(e, c, a, token, ceremonyOpts{}), http.StatusOK, "")
	return c
}

// TestPasskeyRegistration: what a registration takes and refuses.
func TestPasskeyRegistration(t *testing.T) {
	e := pkEnv(t, func(c *authsys.Config) { c.Passkeys.MaxPerUser = 2 })
	e.signupVerified("ana@example.com", goodPassword)
	c := e.loggedIn("ana@example.com", goodPassword)
	ana := coreUser(e, "ana@example.com")

	opts := publicKey(t, c.post("/passkeys/register/begin/", nil))
	sel, _ := opts["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" || sel["userVerification"] != "required" || opts["attestation"] != "none" {
		t.Errorf("creation options: got authenticatorSelection %v, attestation %v; want a discoverable credential, user verification required, no attestation", sel, opts["attestation"])
	}
	rp, _ := opts["rp"].(map[string]any)
	if rp["id"] != pkRPID || rp["name"] != "AuthSystem" {
		t.Errorf("creation options: got rp %v, want %s named AuthSystem", rp, pkRPID)
	}
	user, _ := opts["user"].(map[string]any)
	handle := unb64(t, user["id"].(string))
	if len(handle) != 32 || strings.Contains(string(handle), ana.ID) || user["name"] != "ana@example.com" {
		t.Errorf("creation options: got user %v, want a random 32-byte handle (not the ID) named by the email", user)
	}

	// Refused answers; each challenge is spent.
	for _, tt := range []struct {
		name string
		o    ceremonyOpts
	}{
		{"no user verification", ceremonyOpts{flags: pkFlags(flagUP)}},
		{"another origin", ceremonyOpts{origin: "https://evil.example.com"}},
		{"another RP ID hash", ceremonyOpts{rpID: "example.com"}},
		{"a get answer", ceremonyOpts{typ: "webauthn.get"}},
	} {
		opts := publicKey(t, c.post("/passkeys/register/begin/", nil))
		r := c.post("/passkeys/register/finish/", map[string]any{"credential": newAuthenticator(t).create(opts, tt.o)})
		if r.StatusCode != http.StatusBadRequest || r.code() != "passkey_invalid" {
			t.Errorf("%s: got %d %s, want 400 passkey_invalid", tt.name, r.StatusCode, r.body)
		}
	}
	// The challenge of another user, or of another session of the user.
	e.signupVerified("bob@example.com", goodPassword)
	bob := e.loggedIn("bob@example.com", goodPassword)
	other := e.loggedIn("ana@example.com", goodPassword)
	for name, begin := range map[string]*client{"another user": bob, "another session": other} {
		opts := publicKey(t, begin.post("/passkeys/register/begin/", nil))
		expect(t, c.post("/passkeys/register/finish/", map[string]any{"credential": newAuthenticator(t).create(opts, ceremonyOpts{})}), http.StatusBadRequest, "passkey_invalid")
		// ... and it is spent: its own session cannot finish it either.
		r := begin.post("/passkeys/register/finish/", map[string]any{"credential": newAuthenticator(t).create(opts, ceremonyOpts{})})
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: the challenge worked after another session sent it: %d %s", name, r.StatusCode, r.body)
		}
	}
	expect(t, c.post("/passkeys/register/finish/", map[string]any{"credential": newAuthenticator(t).create(opts, ceremonyOpts{}), "name": strings.Repeat("n", 65)}), http.StatusBadRequest, "validation_failed")
	expect(t, c.post("/passkeys/register/finish/", map[string]any{"name": "x"}), http.StatusBadRequest, "validation_failed")
	if r := c.get("/passkeys/"); len(r.json(t)["passkeys"].([]any)) != 0 {
		t.Fatalf("after refused registrations: got %s, want no passkey", r.body)
	}

	// A named passkey; the next registration shares its user handle and
	// excludes it, and the same authenticator twice is refused.
	a := newAuthenticator(t)
	r := c.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{}), "name": "  Work laptop "})
	expect(t, r, http.StatusCreated, "")
	if got := r.json(t)["passkey"].(map[string]any)["name"]; got != "Work laptop" {
		t.Errorf("passkey name: got %v, want the trimmed name", got)
	}
	opts = publicKey(t, c.post("/passkeys/register/begin/", nil))
	if got := opts["user"].(map[string]any)["id"]; got != b64(handle) {
		t.Errorf("second registration: got user handle %v, want the account's %s", got, b64(handle))
	}
	excluded, _ := opts["excludeCredentials"].([]any)
	if len(excluded) != 1 || excluded[0].(map[string]any)["id"] != b64(a.credID) {
		t.Errorf("second registration: got excludeCredentials %v, want the first passkey", excluded)
	}
	expect(t, c.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})}), http.StatusConflict, "conflict")
	pkRegister(e, c)
	expect(t, c.post("/passkeys/register/begin/", nil), http.StatusConflict, "conflict") // MaxPerUser 2

	// Not fresh: no registration.
	pkStale(e)
	expect(t, c.post("/passkeys/register/begin/", nil), http.StatusForbidden, "reauthentication_required")

	if m := coreLastMail(e, "ana@example.com", mail.KindPasskeyAdded); !strings.Contains(m.Text, "passkey was added") {
		t.Errorf("passkey_added notice: got %q", m.Text)
	}
}

// TestPasskeyManage: renaming and removing one's own passkeys, and no
// other's.
func TestPasskeyManage(t *testing.T) {
	e := pkEnv(t)
	c, a, view := pkUser(e, "ana@example.com")
	_, _, bobs := pkUser(e, "bob@example.com")
	id, bobID := view["id"].(string), bobs["id"].(string)
	patch := func(id string, body any) response { return c.do(http.MethodPatch, "/api/auth/passkeys/"+id+"/", body) }

	r := patch(id, map[string]string{"name": "Phone"})
	expect(t, r, http.StatusOK, "")
	if got := r.json(t)["passkey"].(map[string]any)["name"]; got != "Phone" {
		t.Errorf("renamed passkey: got name %v, want Phone", got)
	}
	expect(t, patch(id, map[string]string{"name": "  "}), http.StatusBadRequest, "validation_failed")
	expect(t, patch(id, map[string]string{"name": "a\u0000b"}), http.StatusBadRequest, "validation_failed")
	expect(t, patch(bobID, map[string]string{"name": "Mine now"}), http.StatusNotFound, "not_found")
	expect(t, patch("no-such-passkey", map[string]string{"name": "x"}), http.StatusNotFound, "not_found")
	expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+bobID+"/", nil), http.StatusNotFound, "not_found")

	// The password login of an account with a passkey asks for it; once
	// the passkey is gone, the password is enough again.
	pkPending(e, "ana@example.com", "passkey")
	expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+id+"/", nil), http.StatusOK, "")
	expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+id+"/", nil), http.StatusNotFound, "not_found")
	if r := c.get("/passkeys/"); len(r.json(t)["passkeys"].([]any)) != 0 {
		t.Errorf("after removal: got %s, want no passkey", r.body)
	}
	e.loggedIn("ana@example.com", goodPassword)
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
	if ev, ok := coreLastEvent(e, authsys.EventPasskeyRemoved); !ok || ev.Reason != "user" || ev.ActorID != "" {
		t.Errorf("passkey_removed event: got %+v, want reason user, no actor", ev)
	}
	if m := coreLastMail(e, "ana@example.com", mail.KindPasskeyRemoved); !strings.Contains(m.Text, "Go client on Unknown system") {
		t.Errorf("passkey_removed notice: got %q, want the device named", m.Text)
	}
	if got := adminUserPasskeys(e, "bob@example.com"); len(got) != 1 || got[0].ID != bobID {
		t.Errorf("bob's passkeys: got %+v, want his one", got)
	}
}

// adminUserPasskeys returns the passkeys of email through Auth.UserPasskeys.
func adminUserPasskeys(e *env, email string) []authsys.Passkey {
	e.t.Helper()
	ps, err := e.auth.UserPasskeys(e.t.Context(), coreUser(e, email).ID)
	if err != nil {
		e.t.Fatalf("UserPasskeys(%s): %v", email, err)
	}
	return ps
}

// TestPasskeyNoticesSkipped: Mail.SkipNotices turns the passkey notices
// off.
func TestPasskeyNoticesSkipped(t *testing.T) {
	e := pkEnv(t, func(c *authsys.Config) {
		c.Mail.SkipNotices = []string{mail.KindPasskeyAdded, mail.KindPasskeyRemoved}
	})
	c, _, view := pkUser(e, "ana@example.com")
	expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+view["id"].(string)+"/", nil), http.StatusOK, "")
	if n := len(coreMails(e, "ana@example.com", mail.KindPasskeyAdded)) + len(coreMails(e, "ana@example.com", mail.KindPasskeyRemoved)); n != 0 {
		t.Errorf("got %d passkey notices, want none", n)
	}
}

// TestPasskeyAdmin: the admin API lists and removes a user's passkeys, and
// so do Auth.UserPasskeys and Auth.RemovePasskey.
func TestPasskeyAdmin(t *testing.T) {
	e, admin, adminUser := adminEnv(t, func(c *authsys.Config) { c.Passkeys = authsys.Passkeys{RPID: pkRPID} })
	ana, a, view := pkUser(e, "ana@example.com")
	_, _, _ = pkUser(e, "bob@example.com")
	anaID, id := coreUser(e, "ana@example.com").ID, view["id"].(string)
	bobPasskey := adminUserPasskeys(e, "bob@example.com")[0].ID

	r := admin.adminDo(http.MethodGet, "/users/"+anaID+"/passkeys/", nil)
	expect(t, r, http.StatusOK, "")
	if list := r.json(t)["passkeys"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != id {
		t.Errorf("admin list: got %s, want ana's passkey", r.body)
	}
	expect(t, admin.adminDo(http.MethodGet, "/users/no-such-user/passkeys/", nil), http.StatusNotFound, "not_found")
	expect(t, ana.adminDo(http.MethodGet, "/users/"+anaID+"/passkeys/", nil), http.StatusForbidden, "forbidden")
	expect(t, e.client().adminDo(http.MethodGet, "/users/"+anaID+"/passkeys/", nil), http.StatusUnauthorized, "not_authenticated")
	expect(t, ana.adminDo(http.MethodDelete, "/users/"+anaID+"/passkeys/"+id+"/", nil), http.StatusForbidden, "forbidden")
	// Another user's passkey under ana's ID is no passkey of hers.
	expect(t, admin.adminDo(http.MethodDelete, "/users/"+anaID+"/passkeys/"+bobPasskey+"/", nil), http.StatusNotFound, "not_found")

	pkStale(e)
	expect(t, admin.adminDo(http.MethodDelete, "/users/"+anaID+"/passkeys/"+id+"/", nil), http.StatusForbidden, "reauthentication_required")
	expect(t, admin.post("/reauthenticate/", map[string]string{"password": goodPassword}), http.StatusOK, "")
	expect(t, admin.adminDo(http.MethodDelete, "/users/"+anaID+"/passkeys/"+id+"/", nil), http.StatusOK, "")
	// Every session of ana's ended with it.
	expect(t, ana.get("/me/"), http.StatusUnauthorized, "")
	expect(t, admin.adminDo(http.MethodDelete, "/users/"+anaID+"/passkeys/"+id+"/", nil), http.StatusNotFound, "not_found")
	// The admin's own passkey goes as anyone's, not by the admin API.
	_, ownView := pkRegister(e, admin)
	expect(t, admin.adminDo(http.MethodDelete, "/users/"+adminUser.ID+"/passkeys/"+ownView["id"].(string)+"/", nil), http.StatusConflict, "conflict")
	expect(t, admin.get("/me/"), http.StatusOK, "")
	if ev, ok := coreLastEvent(e, authsys.EventPasskeyRemoved); !ok || ev.ActorID != adminUser.ID || ev.Reason != "admin" || ev.UserID != anaID {
		t.Errorf("passkey_removed event: got %+v, want ana's, by the admin", ev)
	}
	if m := coreLastMail(e, "ana@example.com", mail.KindPasskeyRemoved); strings.Contains(m.Text, "Go client") {
		t.Errorf("an admin's removal notice names a device: %q", m.Text)
	}
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")

	// The operator methods.
	ctx := t.Context()
	bobID := coreUser(e, "bob@example.com").ID
	if err := e.auth.RemovePasskey(ctx, "cli:test", bobID, "no-such-passkey"); !errors.Is(err, authsys.ErrNotFound) {
		t.Errorf("RemovePasskey of an unknown passkey: got %v, want ErrNotFound", err)
	}
	if err := e.auth.RemovePasskey(ctx, "cli:test", anaID, bobPasskey); !errors.Is(err, authsys.ErrNotFound) {
		t.Errorf("RemovePasskey of another user's passkey: got %v, want ErrNotFound", err)
	}
	if err := e.auth.RemovePasskey(ctx, "cli:test", bobID, bobPasskey); err != nil {
		t.Errorf("RemovePasskey: got %v, want nil", err)
	}
	if ev, ok := coreLastEvent(e, authsys.EventPasskeyRemoved); !ok || ev.ActorID != "cli:test" {
		t.Errorf("passkey_removed event: got %+v, want actor cli:test", ev)
	}
	if ps := adminUserPasskeys(e, "bob@example.com"); len(ps) != 0 {
		t.Errorf("bob's passkeys after RemovePasskey: got %d, want 0", len(ps))
	}
	if _, err := e.auth.UserPasskeys(ctx, "no-such-user"); !errors.Is(err, authsys.ErrNotFound) {
		t.Errorf("UserPasskeys of an unknown user: got %v, want ErrNotFound", err)
	}
}

// TestPasskeysOff: without Passkeys.RPID every passkey endpoint answers
// 501, and nothing else changes.
func TestPasskeysOff(t *testing.T) {
	e, admin, _ := adminEnv(t)
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, "/api/auth/passkeys/"},
		{http.MethodPatch, "/api/auth/passkeys/x/"},
		{http.MethodDelete, "/api/auth/passkeys/x/"},
		{http.MethodPost, "/api/auth/passkeys/register/begin/"},
		{http.MethodPost, "/api/auth/passkeys/register/finish/"},
		{http.MethodPost, "/api/auth/passkeys/login/begin/"},
		{http.MethodPost, "/api/auth/passkeys/login/finish/"},
		{http.MethodPost, "/api/auth/passkeys/2fa/begin/"},
		{http.MethodPost, "/api/auth/passkeys/2fa/finish/"},
		{http.MethodPost, "/api/auth/passkeys/reauthenticate/begin/"},
		{http.MethodPost, "/api/auth/passkeys/reauthenticate/finish/"},
		{http.MethodGet, "/api/admin/auth/users/x/passkeys/"},
		{http.MethodDelete, "/api/admin/auth/users/x/passkeys/y/"},
	} {
		for _, c := range []*client{admin, e.client()} {
			r := c.do(ep.method, ep.path, nil)
			if r.StatusCode != http.StatusNotImplemented || r.code() != "not_implemented" {
				t.Errorf("%s %s: got %d %s, want 501 not_implemented", ep.method, ep.path, r.StatusCode, r.body)
			}
		}
	}
	if _, err := e.auth.UserPasskeys(t.Context(), "x"); !errors.Is(err, authsys.ErrPasskeysOff) {
		t.Errorf("UserPasskeys: got %v, want ErrPasskeysOff", err)
	}
	if err := e.auth.RemovePasskey(t.Context(), "cli", "x", "y"); !errors.Is(err, authsys.ErrPasskeysOff) {
		t.Errorf("RemovePasskey: got %v, want ErrPasskeysOff", err)
	}
}

// pkNoPasskeyStore is a user store without store.PasskeyStore.
type pkNoPasskeyStore struct{ authsys.UserStore }

func TestPasskeyConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*authsys.Config)
		field  string // "" means valid
	}{
		{"off", func(c *authsys.Config) {}, ""},
		{"on, origin from FrontendURL", func(c *authsys.Config) { c.Passkeys.RPID = "app.example.com" }, ""},
		{"a registrable suffix", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://app.example.com", "https://example.com:443/", "https://a.b.example.com:8443"}}
		}, ""},
		{"localhost over http", func(c *authsys.Config) {
			c.Links.FrontendURL = "http://localhost:8080"
			c.Passkeys.RPID = "localhost"
		}, ""},
		{"every field", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}, ChallengeTTL: time.Minute, MaxPerUser: 100}
		}, ""},
		{"origins without RPID", func(c *authsys.Config) { c.Passkeys.RPOrigins = []string{"https://app.example.com"} }, "Passkeys.RPID"},
		{"RPID upper-case", func(c *authsys.Config) { c.Passkeys.RPID = "App.example.com" }, "Passkeys.RPID"},
		{"RPID with a scheme", func(c *authsys.Config) { c.Passkeys.RPID = "https://app.example.com" }, "Passkeys.RPID"},
		{"RPID with a port", func(c *authsys.Config) { c.Passkeys.RPID = "app.example.com:443" }, "Passkeys.RPID"},
		{"RPID an IP address", func(c *authsys.Config) { c.Passkeys.RPID = "192.0.2.1" }, "Passkeys.RPID"},
		{"RPID with an empty label", func(c *authsys.Config) { c.Passkeys.RPID = "app..example.com" }, "Passkeys.RPID"},
		{"origin over http", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"http://app.example.com"}}
		}, "Passkeys.RPOrigins[0]"},
		{"origin outside the RPID", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://example.com", "https://example.org"}}
		}, "Passkeys.RPOrigins[1]"},
		{"origin a suffix but no subdomain", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://badexample.com"}}
		}, "Passkeys.RPOrigins[0]"},
		{"origin with a path", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://example.com/app"}}
		}, "Passkeys.RPOrigins[0]"},
		{"origin with a user", func(c *authsys.Config) {
			c.Passkeys = authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://u:p@example.com"}}
		}, "Passkeys.RPOrigins[0]"},
		{"default origin over http", func(c *authsys.Config) {
			c.Links.FrontendURL = "http://app.example.com"
			c.Passkeys.RPID = "app.example.com"
		}, "Passkeys.RPOrigins[0]"},
		{"default origin outside the RPID", func(c *authsys.Config) { c.Passkeys.RPID = "example.org" }, "Passkeys.RPOrigins[0]"},
		{"negative ChallengeTTL", func(c *authsys.Config) { c.Passkeys = authsys.Passkeys{RPID: "app.example.com", ChallengeTTL: -1} }, "Passkeys.ChallengeTTL"},
		{"MaxPerUser too high", func(c *authsys.Config) { c.Passkeys = authsys.Passkeys{RPID: "app.example.com", MaxPerUser: 101} }, "Passkeys.MaxPerUser"},
		{"a user store without passkeys", func(c *authsys.Config) {
			c.Users = pkNoPasskeyStore{c.Users}
			c.Passkeys.RPID = "app.example.com"
		}, "Users"},
		{"a user store without passkeys, passkeys off", func(c *authsys.Config) {
			// The session records come from Pending then.
			c.Users = pkNoPasskeyStore{c.Users}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coreValidConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			var ce *authsys.ConfigError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("got error %v, want a valid Config", err)
			case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
				t.Fatalf("got error %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
}

// TestPasskeyBackends: the ceremonies on the SQL stores, whose passkeys
// live in their own table (PostgreSQL when AUTHSYS_TEST_POSTGRES_URL is
// set).
func TestPasskeyBackends(t *testing.T) {
	backends := map[string]func(t *testing.T) authsys.UserStore{
		"sqlite": func(t *testing.T) authsys.UserStore {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "authsys.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) authsys.UserStore {
			pool := bkPostgresPool(t, "")
			return postgres.New(pool, postgres.WithSchema(bkPostgresSchema(t, pool)))
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			users := open(t)
			e := pkEnv(t, func(c *authsys.Config) { c.Users = users })
			c, a, view := pkUser(e, "ana@example.com")
			b, r := pkLogin(e, a, ceremonyOpts{})
			expect(t, r, http.StatusOK, "")
			expect(t, b.get("/me/"), http.StatusOK, "")
			p, token := pkPending(e, "ana@example.com", "passkey")
			expect(t, pk2FA(e, p, a, token, ceremonyOpts{}), http.StatusOK, "")
			a.counter -= 2
			_, r = pkLogin(e, a, ceremonyOpts{})
			expect(t, r, http.StatusUnauthorized, "invalid_credentials")
			a.counter += 5
			expect(t, c.do(http.MethodPatch, "/api/auth/passkeys/"+view["id"].(string)+"/", map[string]string{"name": "Laptop"}), http.StatusOK, "")
			r = c.get("/passkeys/")
			got := r.json(t)["passkeys"].([]any)[0].(map[string]any)
			if got["name"] != "Laptop" || got["last_used_at"] == nil {
				t.Errorf("listed passkey: got %v, want the new name and a last use", got)
			}
			expect(t, c.do(http.MethodDelete, "/api/auth/passkeys/"+view["id"].(string)+"/", nil), http.StatusOK, "")
			_, r = pkLogin(e, a, ceremonyOpts{})
			expect(t, r, http.StatusUnauthorized, "invalid_credentials")
		})
	}
}

// TestPasskeyRateLimits: the begin calls spend the login budget, per
// client IP (and per account when known); the second factor's finish the
// 2FA budget.
func TestPasskeyRateLimits(t *testing.T) {
	e := pkEnv(t, func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{limitLogin: "3/min", limitTwoFactor: "2/min"})
	})
	_, a, _ := pkUser(e, "ana@example.com") // one login spends one
	anon := e.client()
	expect(t, anon.post("/passkeys/login/begin/", nil), http.StatusOK, "")
	expect(t, anon.post("/passkeys/login/begin/", nil), http.StatusOK, "")
	r := anon.post("/passkeys/login/begin/", nil)
	expect(t, r, http.StatusTooManyRequests, "throttled")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.clock.Advance(time.Minute)
	p, token := pkPending(e, "ana@example.com", "passkey")
	for range 2 {
		expect(t, p.post("/passkeys/2fa/finish/", map[string]any{"session_token": token, "credential": a.get(map[string]any{"challenge": "x"}, ceremonyOpts{})}), http.StatusBadRequest, "passkey_invalid")
	}
	expect(t, p.post("/passkeys/2fa/finish/", map[string]any{"session_token": token, "credential": a.get(map[string]any{"challenge": "x"}, ceremonyOpts{})}), http.StatusTooManyRequests, "throttled")
	if ev, ok := coreLastEvent(e, authsys.EventThrottled); !ok || ev.Reason != "2fa_verify" {
		t.Errorf("throttled event: got %+v, want reason 2fa_verify", ev)
	}
}

// TestPasskeyBackupFlags: a synced passkey (backup eligible) shows so, its
// backup state follows its uses, and an answer whose eligibility differs
// from the registration's is refused.
func TestPasskeyBackupFlags(t *testing.T) {
	e := pkEnv(t)
	e.signupVerified("ana@example.com", goodPassword)
	c := e.loggedIn("ana@example.com", goodPassword)
	a := newAuthenticator(t)
	a.flags = flagUP | flagUV | flagBE
	opts := publicKey(t, c.post("/passkeys/register/begin/", nil))
	r := c.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})})
	expect(t, r, http.StatusCreated, "")
	if pk := r.json(t)["passkey"].(map[string]any); pk["backup_eligible"] != true || pk["backed_up"] != false {
		t.Errorf("registered passkey: got %v, want backup eligible, not backed up", pk)
	}
	a.flags |= flagBS
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
	if pk := c.get("/passkeys/").json(t)["passkeys"].([]any)[0].(map[string]any); pk["backed_up"] != true || pk["last_used_at"] == nil {
		t.Errorf("after a backed-up use: got %v, want backed_up and a last use", pk)
	}
	_, r = pkLogin(e, a, ceremonyOpts{flags: pkFlags(flagUP | flagUV)})
	expect(t, r, http.StatusUnauthorized, "invalid_credentials")
}

// TestPasskeyLoginVeto: Hooks.BeforeLogin is asked about a passkey login
// as about a password one, and its refusal starts no session.
func TestPasskeyLoginVeto(t *testing.T) {
	var veto atomic.Bool
	var asked atomic.Int32
	e := pkEnv(t, func(c *authsys.Config) {
		c.Hooks.BeforeLogin = func(r *http.Request, a authsys.Account) error {
			asked.Add(1)
			if veto.Load() && a.Email == "vera@example.com" {
				return &authsys.Problem{Status: http.StatusForbidden, Code: authsys.CodeForbidden, Detail: "Locked."}
			}
			return nil
		}
	})
	_, a, _ := pkUser(e, "vera@example.com")
	veto.Store(true)
	before := asked.Load()
	_, r := pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusForbidden, authsys.CodeForbidden)
	pkNoSession(t, r)
	if asked.Load() != before+1 {
		t.Errorf("BeforeLogin was asked %d times for a passkey login, want once", asked.Load()-before)
	}
	veto.Store(false)
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
}

// TestPasskeyStolenSessionRecovery: a passkey added from a stolen (fresh)
// session does not outlive the owner's recovery. The owner's password
// reset removes it (its holder can no longer log in, and the owner's
// password login no longer waits for it); an administrator's disable-2fa
// removes the passkeys of an account without TOTP; removing a passkey
// ends the sessions it may have opened.
func TestPasskeyStolenSessionRecovery(t *testing.T) {
	e := pkEnv(t)
	stolen, attackerKey, _ := pkUser(e, "owner@example.com")

	// The owner takes the account back with a reset.
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "owner@example.com"}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := linkParams(t, coreLastMail(e, "owner@example.com", mail.KindPasswordReset))
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": goodPassword}), http.StatusOK, "")
	expect(t, stolen.get("/me/"), http.StatusUnauthorized, "")
	_, r := pkLogin(e, attackerKey, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, authsys.CodeInvalidCredentials)
	pkNoSession(t, r)
	login := e.client().post("/login/", map[string]string{"email": "owner@example.com", "password": goodPassword})
	expect(t, login, http.StatusOK, "")
	if login.json(t)["requires_2fa"] != false {
		t.Errorf("the owner's login after the reset: got %s, want it complete (no passkey left to ask for)", login.body)
	}

	// An administrator's recovery of a passkey-only account.
	c, a, _ := pkUser(e, "lost@example.com")
	id := coreUser(e, "lost@example.com").ID
	if _, err := e.auth.AdminAction(t.Context(), "test", id, authsys.AdminDisable2FA); err != nil {
		t.Fatalf("disable-2fa of an account with a passkey and no TOTP: %v", err)
	}
	if ps, err := e.auth.UserPasskeys(t.Context(), id); err != nil || len(ps) != 0 {
		t.Errorf("after disable-2fa: got passkeys %v, %v; want none", ps, err)
	}
	expect(t, c.get("/me/"), http.StatusUnauthorized, "")
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, authsys.CodeInvalidCredentials)

	// Removing a passkey ends the sessions it opened; the remover goes on.
	owner, key, view := pkUser(e, "rem@example.com")
	opened, r := pkLogin(e, key, ceremonyOpts{})
	expect(t, r, http.StatusOK, "")
	expect(t, owner.do(http.MethodDelete, "/api/auth/passkeys/"+view["id"].(string)+"/", nil), http.StatusOK, "")
	expect(t, opened.get("/me/"), http.StatusUnauthorized, "")
	expect(t, owner.get("/me/"), http.StatusOK, "")
}

// TestPasskeyOnlyPendingCode: a code sent for a login whose second factor
// is a passkey is a wrong answer, not the end of the login: the passkey
// still completes it.
func TestPasskeyOnlyPendingCode(t *testing.T) {
	e := pkEnv(t)
	_, a, _ := pkUser(e, "pk@example.com")
	c, token := pkPending(e, "pk@example.com", "passkey")
	expect(t, c.post("/2fa/verify-login/", map[string]string{"session_token": token, "code": "123456"}), http.StatusBadRequest, authsys.CodeInvalidCode)
	expect(t, pk2FA(e, c, a, token, ceremonyOpts{}), http.StatusOK, "")
}

// pkHookedStore is a memory store whose passkey writes can be held or
// failed, to put a reset in the middle of a ceremony.
type pkHookedStore struct {
	*memory.Store
	// Each hook runs once, the next time its call comes.
	beforeCreate, afterCreate, beforeUpdate, beforeList func()
	failDelete                                          atomic.Bool
}

// once runs *hook, if set, after clearing it.
func once(hook *func()) {
	if h := *hook; h != nil {
		*hook = nil
		h()
	}
}

func (s *pkHookedStore) CreatePasskey(ctx context.Context, p store.Passkey) error {
	once(&s.beforeCreate)
	err := s.Store.CreatePasskey(ctx, p)
	once(&s.afterCreate)
	return err
}

func (s *pkHookedStore) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	once(&s.beforeUpdate)
	return s.Store.UpdateUser(ctx, id, fn)
}

func (s *pkHookedStore) PasskeysByUser(ctx context.Context, userID string) ([]store.Passkey, error) {
	once(&s.beforeList)
	return s.Store.PasskeysByUser(ctx, userID)
}

func (s *pkHookedStore) DeletePasskey(ctx context.Context, userID, id string) (store.Passkey, error) {
	if s.failDelete.Load() {
		return store.Passkey{}, fmt.Errorf("%w: deletion refused by the test", store.ErrUnavailable)
	}
	return s.Store.DeletePasskey(ctx, userID, id)
}

// pkHookedEnv is pkEnv on a pkHookedStore.
func pkHookedEnv(t *testing.T) (*env, *pkHookedStore) {
	hs := &pkHookedStore{}
	e := pkEnv(t, func(c *authsys.Config) {
		hs.Store = c.Users.(*memory.Store)
		c.Users = hs
	})
	return e, hs
}

// pkReset has the owner of email reset the password with a fresh link.
func pkReset(e *env, email, pw string) response {
	e.t.Helper()
	expect(e.t, e.client().post("/password-reset/", map[string]string{"email": email}), http.StatusOK, "")
	if err := e.auth.Shutdown(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	q := linkParams(e.t, coreLastMail(e, email, mail.KindPasswordReset))
	return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": pw})
}

// TestPasskeyRegistrationDuringReset: a registration whose session a
// password reset ends while it is being stored does not leave its passkey
// behind.
func TestPasskeyRegistrationDuringReset(t *testing.T) {
	e, hs := pkHookedEnv(t)
	e.signupVerified("owner@example.com", goodPassword)
	stolen := e.loggedIn("owner@example.com", goodPassword)
	a := newAuthenticator(t)
	opts := publicKey(t, stolen.post("/passkeys/register/begin/", nil))
	hs.beforeCreate = func() {
		hs.beforeCreate = nil
		expect(t, pkReset(e, "owner@example.com", "the owner's new passphrase"), http.StatusOK, "")
	}
	r := stolen.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})})
	expect(t, r, http.StatusUnauthorized, authsys.CodeInvalidToken)
	if ps, err := e.auth.UserPasskeys(t.Context(), coreUser(e, "owner@example.com").ID); err != nil || len(ps) != 0 {
		t.Errorf("after the reset: got passkeys %v, %v; want none", ps, err)
	}
	_, r = pkLogin(e, a, ceremonyOpts{})
	expect(t, r, http.StatusUnauthorized, authsys.CodeInvalidCredentials)
}

// TestPasskeyResetRemovalFails: a reset whose passkeys cannot be removed
// changes nothing (the password stays, the passkey still counts) and its
// link works once the store is back.
func TestPasskeyResetRemovalFails(t *testing.T) {
	e, hs := pkHookedEnv(t)
	_, _, _ = pkUser(e, "owner@example.com")
	before := coreUser(e, "owner@example.com")
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "owner@example.com"}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := linkParams(t, coreLastMail(e, "owner@example.com", mail.KindPasswordReset))
	confirm := func() response {
		return e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "the owner's new passphrase"})
	}
	hs.failDelete.Store(true)
	expect(t, confirm(), http.StatusServiceUnavailable, authsys.CodeServiceUnavailable)
	if got := coreUser(e, "owner@example.com"); got.PasswordHash != before.PasswordHash || got.TokenVersion != before.TokenVersion {
		t.Error("a reset whose passkeys could not be removed changed the account")
	}
	hs.failDelete.Store(false)
	expect(t, confirm(), http.StatusOK, "")
	if ps, _ := e.auth.UserPasskeys(t.Context(), before.ID); len(ps) != 0 {
		t.Errorf("after the retried reset: got %d passkeys, want none", len(ps))
	}
}

// TestPasskeyLoginDuringResetRace: a passkey login that uses a passkey
// between the moment a reset (or a registration's rollback) moved the
// token version and the moment it removed the passkey keeps no session:
// the version moves again after such a removal. Two interleavings: the
// registration stored after the reset and rolled back (A), and the
// registration stored between the reset's first removal and its write
// (B).
func TestPasskeyLoginDuringResetRace(t *testing.T) {
	t.Run("rollback", func(t *testing.T) {
		e, hs := pkHookedEnv(t)
		e.signupVerified("owner@example.com", goodPassword)
		stolen := e.loggedIn("owner@example.com", goodPassword)
		a := newAuthenticator(t)
		opts := publicKey(t, stolen.post("/passkeys/register/begin/", nil))
		var opened *client
		hs.beforeCreate = func() { expect(t, pkReset(e, "owner@example.com", "the owner's new passphrase"), http.StatusOK, "") }
		hs.afterCreate = func() {
			var r response
			opened, r = pkLogin(e, a, ceremonyOpts{})
			expect(t, r, http.StatusOK, "")
		}
		expect(t, stolen.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})}), http.StatusUnauthorized, authsys.CodeInvalidToken)
		if opened == nil {
			t.Fatal("the login in the window did not run")
		}
		expect(t, opened.get("/me/"), http.StatusUnauthorized, "")
	})
	t.Run("between removal and write", func(t *testing.T) {
		e, hs := pkHookedEnv(t)
		e.signupVerified("owner@example.com", goodPassword)
		stolen := e.loggedIn("owner@example.com", goodPassword)
		a := newAuthenticator(t)
		opts := publicKey(t, stolen.post("/passkeys/register/begin/", nil))
		expect(t, e.client().post("/password-reset/", map[string]string{"email": "owner@example.com"}), http.StatusOK, "")
		if err := e.auth.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		q := linkParams(t, coreLastMail(e, "owner@example.com", mail.KindPasswordReset))
		var opened *client
		hs.beforeUpdate = func() {
			expect(t, stolen.post("/passkeys/register/finish/", map[string]any{"credential": a.create(opts, ceremonyOpts{})}), http.StatusCreated, "")
			hs.beforeList = func() {
				var r response
				opened, r = pkLogin(e, a, ceremonyOpts{})
				expect(t, r, http.StatusOK, "")
			}
		}
		expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "the owner's new passphrase"}), http.StatusOK, "")
		if opened == nil {
			t.Fatal("the login in the window did not run")
		}
		expect(t, opened.get("/me/"), http.StatusUnauthorized, "")
		if ps, _ := e.auth.UserPasskeys(t.Context(), coreUser(e, "owner@example.com").ID); len(ps) != 0 {
			t.Errorf("after the reset: got %d passkeys, want none", len(ps))
		}
	})
}

// TestPasskeyShutAccountResetKeepsPasskeys: a reset link for an account
// that was shut since (inactive, verified) removes nothing.
func TestPasskeyShutAccountResetKeepsPasskeys(t *testing.T) {
	e := pkEnv(t)
	_, _, _ = pkUser(e, "shut@example.com")
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "shut@example.com"}), http.StatusOK, "")
	if err := e.auth.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := linkParams(t, coreLastMail(e, "shut@example.com", mail.KindPasswordReset))
	id := coreSetUser(e, "shut@example.com", func(u *authsys.User) { u.IsActive = false }).ID
	expect(t, e.client().post("/password-reset-confirm/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token"), "new_password": "a freshly chosen passphrase"}), http.StatusBadRequest, "invalid_token")
	if ps, _ := e.auth.UserPasskeys(t.Context(), id); len(ps) != 1 {
		t.Errorf("a refused reset left %d passkeys, want the 1 the account had", len(ps))
	}
}

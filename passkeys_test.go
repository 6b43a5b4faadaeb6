package authsys_test

// Passkeys: every ceremony (register, login, second factor,
// re-authentication), their management and admin endpoints, and the
// attacks on them, with a software authenticator that signs as a platform
// authenticator would: an ECDSA P-256 key, attestation format "none".

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/authsys-go/authsys"
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

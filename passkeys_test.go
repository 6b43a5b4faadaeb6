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
	"testing"

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

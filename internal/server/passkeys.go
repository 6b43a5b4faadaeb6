package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// Passkeys (WebAuthn). Every ceremony has a begin call, which answers the
// options for navigator.credentials.create() or .get() and keeps their
// challenge in the PendingStore (session.Keys.PasskeyCeremony), and a
// finish call, which takes the challenge the answer's client data names,
// once, and has go-webauthn verify the answer against it. The ceremonies:
//
//   - register: a logged-in user with a fresh session adds a passkey: a
//     discoverable credential with user verification;
//   - login: anyone, without an email: the passkey names its account (a
//     discoverable credential), and its user verification counts as both
//     factors;
//   - 2fa: the second factor of a password login (a pending login) of an
//     account that has a passkey;
//   - reauth: the user of a session confirms it, which makes it fresh.

// Ceremony kinds, in the keys and records of their challenges.
const (
	ceremonyRegister  = "register"
	ceremonyLogin     = "login"
	ceremonyTwoFactor = "2fa"
	ceremonyReauth    = "reauth"
)

const (
	// methodPasskey names a passkey among the second factors and in
	// events.
	methodPasskey = "passkey"
	// limitPasskey is the scope of the budget the begin calls spend
	// (RateLimits.Login): per client IP, and per account when known.
	limitPasskey = "passkey"
	// maxPasskeyName bounds a passkey's name, in characters.
	maxPasskeyName = 64
	// maxChallenge bounds the challenge looked up; real ones are 43
	// characters (32 bytes, base64url).
	maxChallenge = 128
	// maxCredentialID is the longest credential ID WebAuthn allows.
	maxCredentialID = 1023
	// userHandleBytes is the length of a new account's user handle.
	userHandleBytes = 32
)

// ErrPasskeysOff is returned by the passkey methods of the admin side
// while passkeys are off (Config.Passkeys.RPID is empty).
var ErrPasskeysOff = errors.New("authsys: passkeys are not enabled (Config.Passkeys.RPID)")

var (
	errPasskeysOff     = problem(http.StatusNotImplemented, handlers.CodeNotImplemented, "passkey.off")
	errPasskeyInvalid  = problem(http.StatusBadRequest, handlers.CodePasskeyInvalid, "passkey.invalid")
	errPasskeyClone    = problem(http.StatusBadRequest, handlers.CodePasskeyInvalid, "passkey.clone")
	errPasskeyLogin    = problem(http.StatusUnauthorized, handlers.CodeInvalidCredentials, "passkey.login_refused")
	errPasskeyRequired = problem(http.StatusForbidden, handlers.CodePasskeyRequired, "passkey.required")
	errNoPasskey       = problem(http.StatusConflict, handlers.CodeConflict, "passkey.none")
	errTooManyPasskeys = problem(http.StatusConflict, handlers.CodeConflict, "passkey.too_many")
	errPasskeyTaken    = problem(http.StatusConflict, handlers.CodeConflict, "passkey.taken")
	errNoSuchPasskey   = problem(http.StatusNotFound, handlers.CodeNotFound, "passkey.not_found")
)

// NewWebAuthn returns the relying party of p, whose fields are validated
// (see authsys.Passkeys).
func NewWebAuthn(p Passkeys) (*webauthn.WebAuthn, error) {
	timeout := webauthn.TimeoutConfig{Timeout: p.ChallengeTTL, TimeoutUVD: p.ChallengeTTL}
	return webauthn.New(&webauthn.Config{
		RPID:                  p.RPID,
		RPDisplayName:         p.RPDisplayName,
		RPOrigins:             p.RPOrigins,
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts:              webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
}

func (h *Handlers) passkeyRoutes(m *http.ServeMux) {
	on := h.passkeysOn
	h.handle(m, "/passkeys/", methods{http.MethodGet: on(h.authed(h.listPasskeys))})
	h.handle(m, "/passkeys/{id}/", methods{
		http.MethodPatch:  on(h.authed(h.renamePasskey)),
		http.MethodDelete: on(h.fresh(h.deletePasskey)),
	})
	h.handle(m, "/passkeys/register/begin/", methods{http.MethodPost: on(h.fresh(h.beginPasskeyRegistration))})
	h.handle(m, "/passkeys/register/finish/", methods{http.MethodPost: on(h.fresh(h.finishPasskeyRegistration))})
	h.handle(m, "/passkeys/login/begin/", methods{http.MethodPost: on(h.beginPasskeyLogin)})
	h.handle(m, "/passkeys/login/finish/", methods{http.MethodPost: on(h.finishPasskeyLogin)})
	h.handle(m, "/passkeys/2fa/begin/", methods{http.MethodPost: on(h.beginPasskeyTwoFactor)})
	h.handle(m, "/passkeys/2fa/finish/", methods{http.MethodPost: on(h.finishPasskeyTwoFactor)})
	h.handle(m, "/passkeys/reauthenticate/begin/", methods{http.MethodPost: on(h.authed(h.beginPasskeyReauth))})
	h.handle(m, "/passkeys/reauthenticate/finish/", methods{http.MethodPost: on(h.authed(h.finishPasskeyReauth))})
}

func (h *Handlers) adminPasskeyRoutes(m *http.ServeMux) {
	h.handle(m, "/users/{id}/passkeys/", methods{http.MethodGet: h.passkeysOn(h.adminOnly(h.adminListPasskeys))})
	h.handle(m, "/users/{id}/passkeys/{pid}/", methods{http.MethodDelete: h.passkeysOn(h.adminFresh(h.adminDeletePasskey))})
}

// passkeysOn wraps a passkey endpoint: 501 not_implemented while passkeys
// are off, before anything else.
func (h *Handlers) passkeysOn(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if h.deps.WebAuthn == nil {
			return errPasskeysOff
		}
		return fn(w, r)
	}
}

// passkeyJSON is a passkey as its owner (or an admin) sees it.
type passkeyJSON struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	BackupEligible bool       `json:"backup_eligible"`
	BackedUp       bool       `json:"backed_up"`
	Transports     []string   `json:"transports"`
	AAGUID         string     `json:"aaguid"`
}

type passkeyList struct {
	Passkeys []passkeyJSON `json:"passkeys"`
}

type passkeyResponse struct {
	Passkey passkeyJSON `json:"passkey"`
}

func passkeyView(p store.Passkey) passkeyJSON {
	out := passkeyJSON{
		ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt.UTC(), BackupEligible: p.BackupEligible,
		BackedUp: p.BackupState, Transports: slices.Clone(p.Transports), AAGUID: formatAAGUID(p.AAGUID),
	}
	if out.Transports == nil {
		out.Transports = []string{}
	}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	return out
}

func passkeyViews(ps []store.Passkey) passkeyList {
	out := passkeyList{Passkeys: make([]passkeyJSON, 0, len(ps))}
	for _, p := range ps {
		out.Passkeys = append(out.Passkeys, passkeyView(p))
	}
	return out
}

// formatAAGUID writes a 16-byte AAGUID as a UUID; "" for anything else.
func formatAAGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// ceremony is a begun ceremony, kept under its challenge until its finish
// call takes it.
type ceremony struct {
	// Kind is one of the ceremony kinds (also in the key).
	Kind string `json:"k"`
	// UserID is the account the ceremony is for; empty for a login.
	UserID string `json:"u,omitempty"`
	// SessionID is the session that began it (register, reauth): only
	// that session may finish it.
	SessionID string `json:"s,omitempty"`
	// Pending is the hash of the pending login's token (2fa): only that
	// login may finish it.
	Pending string `json:"p,omitempty"`
	// Data is what go-webauthn verifies the answer against.
	Data webauthn.SessionData `json:"d"`
}

// beginCeremony keeps c until its finish call, or ChallengeTTL.
func (h *Handlers) beginCeremony(ctx context.Context, c ceremony) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return h.deps.Pending.PutPending(ctx, h.keys.PasskeyCeremony(c.Kind, c.Data.Challenge), raw, h.deps.Passkeys.ChallengeTTL)
}

// takeCeremony takes the ceremony of kind whose challenge is challenge (as
// the answer's client data carries it): atomically, so that of concurrent
// finish calls of one ceremony one at most gets it, and a challenge
// answers once. It reports false for a challenge unknown, expired, used,
// or made for another kind of ceremony.
func (h *Handlers) takeCeremony(ctx context.Context, kind, challenge string) (ceremony, bool, error) {
	if challenge == "" || len(challenge) > maxChallenge {
		return ceremony{}, false, nil
	}
	raw, err := h.deps.Pending.TakePending(ctx, h.keys.PasskeyCeremony(kind, challenge))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ceremony{}, false, nil
	case err != nil:
		return ceremony{}, false, err
	}
	var c ceremony
	if json.Unmarshal(raw, &c) != nil || c.Kind != kind || c.Data.Challenge != challenge {
		return ceremony{}, false, nil
	}
	return c, true, nil
}

// webauthnUser is an account as go-webauthn sees it: its user handle, its
// name in the authenticator, and the credentials a ceremony accepts.
type webauthnUser struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u *webauthnUser) WebAuthnID() []byte                         { return u.handle }
func (u *webauthnUser) WebAuthnName() string                       { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string                { return u.name }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// credentialOf is p as go-webauthn verifies an assertion with it.
func credentialOf(p store.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationFormat: p.AttestationFormat, Transport: ts,
		Flags:         webauthn.CredentialFlags{UserPresent: true, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
}

func credentialsOf(ps []store.Passkey) []webauthn.Credential {
	out := make([]webauthn.Credential, len(ps))
	for i, p := range ps {
		out[i] = credentialOf(p)
	}
	return out
}

// hasPasskeys reports whether the account userID has a passkey; false
// while passkeys are off.
func (h *Handlers) hasPasskeys(ctx context.Context, userID string) (bool, error) {
	if h.deps.WebAuthn == nil {
		return false, nil
	}
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, userID)
	return len(ps) > 0, err
}

// secondFactors lists the second factors that complete a password login
// of u: "totp" and "backup_code" when TOTP is on, "passkey" when the
// account has a passkey; none means the password is enough.
func (h *Handlers) secondFactors(ctx context.Context, u store.User) ([]string, error) {
	var out []string
	if u.TOTPEnabled {
		out = append(out, methodTOTP, methodBackupCode)
	}
	has, err := h.hasPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if has {
		out = append(out, methodPasskey)
	}
	return out, nil
}

// passkeyRefused emits the failure of the ceremony kind of the account
// u (the zero User when unknown), whose answer err refused, and returns perr.
// The answer's faults are not secret, but they are the client's: they are
// logged at debug level only.
func (h *Handlers) passkeyRefused(r *http.Request, u store.User, kind string, err, perr error) error {
	if err != nil {
		h.log.DebugContext(r.Context(), "authsys: a passkey answer was refused", "ceremony", kind, "error", err)
	}
	switch kind {
	case ceremonyLogin:
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "passkey_invalid"})
	case ceremonyReauth:
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "reauthenticate_passkey_invalid"})
	}
	return perr
}

// recordUse records the use of p the assertion parsed shows: its
// signature counter must move forward (or stay at zero for an
// authenticator that keeps none), which the store checks and writes in
// one conditional step, so that of two uses with one counter one wins. A
// counter that did not move forward is a cloned authenticator (or a
// replayed answer): the use is refused with errPasskeyClone and reported.
// A passkey deleted meanwhile gives errPasskeyInvalid.
func (h *Handlers) recordUse(r *http.Request, p store.Passkey, email string, parsed *protocol.ParsedCredentialAssertionData, kind string) error {
	ad := parsed.Response.AuthenticatorData
	_, ok, err := h.deps.PasskeyStore.UsePasskey(r.Context(), p.ID, ad.Counter, ad.Flags.HasBackupState(), h.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errPasskeyInvalid
	case err != nil:
		return err
	case !ok:
		h.emit(r, Event{Kind: handlers.EventPasskeyCloneDetected, UserID: p.UserID, Email: email, Reason: kind})
		return errPasskeyClone
	}
	return nil
}

// assertionUser prepares the verification of an assertion parsed of the
// ceremony c (2fa, reauth) of the account userID: the credential must be
// one the ceremony allowed and one of the account's passkeys still. It
// returns that passkey, the account as go-webauthn sees it and the data
// to verify against; false when the credential is not one of them (another
// account's, or deleted since the begin call).
func (h *Handlers) assertionUser(ctx context.Context, userID string, c ceremony, parsed *protocol.ParsedCredentialAssertionData) (store.Passkey, *webauthnUser, webauthn.SessionData, bool, error) {
	data := c.Data
	if !slices.ContainsFunc(data.AllowedCredentialIDs, func(id []byte) bool { return bytes.Equal(id, parsed.RawID) }) {
		return store.Passkey{}, nil, data, false, nil
	}
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, userID)
	if err != nil {
		return store.Passkey{}, nil, data, false, err
	}
	i := slices.IndexFunc(ps, func(p store.Passkey) bool { return bytes.Equal(p.CredentialID, parsed.RawID) })
	if i < 0 {
		return store.Passkey{}, nil, data, false, nil
	}
	p := ps[i]
	// The credential is checked against the allowed list above; the rest
	// of the account's passkeys, added or removed since the begin call,
	// play no part.
	data.UserID, data.AllowedCredentialIDs = p.UserHandle, nil
	return p, &webauthnUser{handle: p.UserHandle, creds: []webauthn.Credential{credentialOf(p)}}, data, true, nil
}

// credentialRequest is the body of a finish call: the credential as
// PublicKeyCredential.toJSON() writes it.
type credentialRequest struct {
	Credential json.RawMessage `json:"credential"`
}

// present reports whether a JSON member was given (and is not null).
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// listPasskeys serves GET /passkeys/: the user's passkeys, oldest first.
func (h *Handlers) listPasskeys(w http.ResponseWriter, r *http.Request, u store.User) error {
	ps, err := h.deps.PasskeyStore.PasskeysByUser(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, passkeyViews(ps))
}

// beginPasskeyRegistration serves POST /passkeys/register/begin/: the
// options of navigator.credentials.create() for a new passkey of u: a
// discoverable credential with user verification, none of u's passkeys
// again. The begin budget is spent per IP and per account.
func (h *Handlers) beginPasskeyRegistration(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := h.limit(r, limitPasskey, h.deps.Limits.Login, u.ID); err != nil {
		return err
	}
	ctx := r.Context()
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(ps) >= h.deps.Passkeys.MaxPerUser {
		return errTooManyPasskeys
	}
	// The account's passkeys share one user handle, so that an
	// authenticator keeps one passkey per account; a first passkey gets a
	// random one (never the ID or the email).
	var handle []byte
	if len(ps) > 0 {
		handle = ps[0].UserHandle
	} else {
		handle = make([]byte, userHandleBytes)
		_, _ = rand.Read(handle) // crypto/rand.Read never fails
	}
	exclude := make([]protocol.CredentialDescriptor, len(ps))
	for i, p := range ps {
		c := credentialOf(p)
		exclude[i] = c.Descriptor()
	}
	creation, data, err := h.deps.WebAuthn.BeginRegistration(&webauthnUser{handle: handle, name: u.Email},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return err
	}
	c := ceremony{Kind: ceremonyRegister, UserID: u.ID, SessionID: claimsFromContext(ctx).SessionID, Data: *data}
	if err := h.beginCeremony(ctx, c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, creation)
}

type registerRequest struct {
	// Name labels the passkey; default the device of the request.
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// validPasskeyName reports whether name (trimmed) can name a passkey: at
// most maxPasskeyName printable characters.
func validPasskeyName(name string) bool {
	return utf8.ValidString(name) && utf8.RuneCountInString(name) <= maxPasskeyName && !strings.ContainsFunc(name, notPrintable)
}

// finishPasskeyRegistration serves POST /passkeys/register/finish/: the
// answer of navigator.credentials.create() to a register ceremony that
// the same session began. The new passkey is stored, the account is told
// (KindPasskeyAdded) and its view is answered (201).
func (h *Handlers) finishPasskeyRegistration(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in registerRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	name := strings.TrimSpace(in.Name)
	if !validPasskeyName(name) {
		f.add("name", fieldInvalidName)
	}
	if !present(in.Credential) {
		f.add("credential", fieldRequired)
	}
	if err := f.err(); err != nil {
		return err
	}
	ctx := r.Context()
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return h.passkeyRefused(r, u, ceremonyRegister, err, errPasskeyInvalid)
	}
	c, ok, err := h.takeCeremony(ctx, ceremonyRegister, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return err
	}
	if !ok || c.UserID != u.ID || c.SessionID != claimsFromContext(ctx).SessionID {
		return h.passkeyRefused(r, u, ceremonyRegister, nil, errPasskeyInvalid)
	}
	cred, err := h.deps.WebAuthn.CreateCredential(&webauthnUser{handle: c.Data.UserID, name: u.Email}, c.Data, parsed)
	if err != nil || len(cred.ID) > maxCredentialID {
		return h.passkeyRefused(r, u, ceremonyRegister, err, errPasskeyInvalid)
	}
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(ps) >= h.deps.Passkeys.MaxPerUser {
		return errTooManyPasskeys
	}
	if name == "" {
		name = session.Label(r.UserAgent())
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	p := store.Passkey{
		ID: tokens.NewID(), UserID: u.ID, Name: name, CredentialID: cred.ID, UserHandle: c.Data.UserID,
		PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount, AAGUID: cred.Authenticator.AAGUID,
		Transports: transports, AttestationFormat: cred.AttestationFormat,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, CreatedAt: h.now(),
	}
	if err := h.deps.PasskeyStore.CreatePasskey(ctx, p); err != nil {
		if errors.Is(err, store.ErrCredentialTaken) {
			return errPasskeyTaken
		}
		return err
	}
	// The session was checked when the request came in; a change since
	// that moved the token version (a password reset, logout-all, an
	// admin's revocation) ended it, and a reset removed the account's
	// passkeys: this one goes too unless the account is still as the
	// session knew it. A passkey login may have used it meanwhile, so the
	// version moves again after its removal.
	if now, err := h.deps.Users.UserByID(ctx, u.ID); err != nil || now.TokenVersion != claimsFromContext(ctx).TokenVersion || !now.IsActive {
		wctx := context.WithoutCancel(ctx)
		_, derr := h.deps.PasskeyStore.DeletePasskey(wctx, u.ID, p.ID)
		if derr == nil {
			derr = h.endEverySession(r.WithContext(wctx), u.ID)
		}
		if derr != nil && !errors.Is(derr, store.ErrNotFound) {
			h.log.ErrorContext(ctx, "authsys: removing a passkey registered by an ended session failed", "user_id", u.ID, "error", derr)
		}
		if err != nil {
			return err
		}
		return problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.session_ended")
	}
	h.emit(r, Event{Kind: handlers.EventPasskeyAdded, UserID: u.ID})
	h.notify(r, u, authmail.KindPasskeyAdded, authmail.Data{})
	return writeJSON(w, http.StatusCreated, passkeyResponse{passkeyView(p)})
}

type renameRequest struct {
	Name string `json:"name"`
}

// renamePasskey serves PATCH /passkeys/{id}/: a new name for one of the
// user's passkeys. Another user's passkey answers 404 as an unknown one.
func (h *Handlers) renamePasskey(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in renameRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	f := fields{}
	if f.required("name", name) && !validPasskeyName(name) {
		f.add("name", fieldInvalidName)
	}
	if err := f.err(); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !plausibleID(id) {
		return errNoSuchPasskey
	}
	p, err := h.deps.PasskeyStore.RenamePasskey(r.Context(), u.ID, id, name)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchPasskey
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, passkeyResponse{passkeyView(p)})
}

// deletePasskey serves DELETE /passkeys/{id}/ (fresh session): one of the
// user's passkeys is removed and the account told (KindPasskeyRemoved).
// Another user's passkey answers 404 as an unknown one.
func (h *Handlers) deletePasskey(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !plausibleID(id) {
		return errNoSuchPasskey
	}
	if _, err := h.deps.PasskeyStore.DeletePasskey(r.Context(), u.ID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchPasskey
		}
		return err
	}
	h.emit(r, Event{Kind: handlers.EventPasskeyRemoved, UserID: u.ID, Email: u.Email, Reason: "user"})
	// The sessions the passkey may have opened end with it (as when 2FA
	// is turned off); the client that removed it goes on in a new one.
	u, err := h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error { x.TokenVersion++; return nil })
	if err != nil {
		return err
	}
	tokens, err := h.restartSession(w, r, u, session.ReasonTwoFactor)
	if err != nil {
		return err
	}
	h.notify(r, u, authmail.KindPasskeyRemoved, authmail.Data{})
	return h.writeMessageTokens(w, r, http.StatusOK, "passkey.removed", tokens)
}

// beginPasskeyLogin serves POST /passkeys/login/begin/: the options of
// navigator.credentials.get() for a login without an email: no allowed
// credentials (the browser offers the passkeys it has for the RP ID), user
// verification required. The begin budget is spent per IP.
func (h *Handlers) beginPasskeyLogin(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := h.limit(r, limitPasskey, h.deps.Limits.Login, ""); err != nil {
		return err
	}
	assertion, data, err := h.deps.WebAuthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	if err := h.beginCeremony(r.Context(), ceremony{Kind: ceremonyLogin, Data: *data}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, assertion)
}

// finishPasskeyLogin serves POST /passkeys/login/finish/: the answer of
// navigator.credentials.get() to a login ceremony. The passkey names its
// account (its credential ID, checked against the user handle), its
// signature and user verification are checked and its counter moved
// forward; the login then completes as a password and second-factor login
// does (completeLogin): the session is fresh. Every refusal of the answer
// is 401 invalid_credentials, as a wrong password is.
func (h *Handlers) finishPasskeyLogin(w http.ResponseWriter, r *http.Request) error {
	var in credentialRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if !present(in.Credential) {
		return fieldProblem(fields{"credential": {{Code: fieldRequired, Message: fieldMessages[fieldRequired]}}})
	}
	ctx := r.Context()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return h.passkeyRefused(r, store.User{}, ceremonyLogin, err, errPasskeyLogin)
	}
	c, ok, err := h.takeCeremony(ctx, ceremonyLogin, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return err
	}
	if !ok {
		return h.passkeyRefused(r, store.User{}, ceremonyLogin, nil, errPasskeyLogin)
	}
	var (
		found     store.Passkey
		user      store.User
		lookupErr error
	)
	byCredential := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := h.deps.PasskeyStore.PasskeyByCredentialID(ctx, rawID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if !bytes.Equal(p.UserHandle, userHandle) {
			return nil, errors.New("the user handle is not the passkey's")
		}
		u, err := h.deps.Users.UserByID(ctx, p.UserID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		found, user = p, u
		return &webauthnUser{handle: p.UserHandle, name: u.Email, creds: []webauthn.Credential{credentialOf(p)}}, nil
	}
	if _, _, err := h.deps.WebAuthn.ValidatePasskeyLogin(byCredential, c.Data, parsed); err != nil {
		if lookupErr != nil && !errors.Is(lookupErr, store.ErrNotFound) {
			return lookupErr
		}
		return h.passkeyRefused(r, user, ceremonyLogin, err, errPasskeyLogin)
	}
	if err := h.recordUse(r, found, user.Email, parsed, ceremonyLogin); err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return h.passkeyRefused(r, user, ceremonyLogin, nil, errPasskeyLogin)
		}
		return err
	}
	if !user.IsActive {
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: user.ID, Email: user.Email, Reason: "inactive"})
		return inactiveProblem(user)
	}
	if err := h.beforeLogin(r, user); err != nil {
		return err
	}
	h.emit(r, Event{Kind: handlers.EventPasskeyUsed, UserID: user.ID, Email: user.Email, Reason: ceremonyLogin})
	// The passkey showed possession and, verifying its user, a second
	// factor: the login completes as a password login with 2FA does, and
	// its session is fresh.
	return h.completeLogin(w, r, user, methodPasskey, time.Time{})
}

// inactiveProblem is the refusal of a login of the inactive account u.
func inactiveProblem(u store.User) error {
	if u.Disabled {
		return problem(http.StatusForbidden, handlers.CodeAccountInactive, "login.account_deactivated")
	}
	return problem(http.StatusForbidden, handlers.CodeAccountInactive, "auth.account_inactive")
}

type pendingPasskeyRequest struct {
	SessionToken string `json:"session_token"`
}

// beginPasskeyTwoFactor serves POST /passkeys/2fa/begin/: the options of
// navigator.credentials.get() for the second factor of the pending login
// session_token: the account's passkeys allowed, user verification
// preferred (the password was the knowledge factor). The begin budget is
// spent per IP; the pending login is looked at, not claimed.
func (h *Handlers) beginPasskeyTwoFactor(w http.ResponseWriter, r *http.Request) error {
	var in pendingPasskeyRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("session_token", in.SessionToken)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.limit(r, limitPasskey, h.deps.Limits.Login, ""); err != nil {
		return err
	}
	ctx := r.Context()
	userID, _, err := h.sess.PendingUser(ctx, in.SessionToken)
	if err != nil {
		return sessionProblem(err)
	}
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, userID)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return errNoPasskey
	}
	assertion, data, err := h.deps.WebAuthn.BeginLogin(&webauthnUser{handle: ps[0].UserHandle, creds: credentialsOf(ps)},
		webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return err
	}
	c := ceremony{Kind: ceremonyTwoFactor, UserID: userID, Pending: session.Hash(in.SessionToken), Data: *data}
	if err := h.beginCeremony(ctx, c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, assertion)
}

type finishTwoFactorRequest struct {
	SessionToken string          `json:"session_token"`
	Credential   json.RawMessage `json:"credential"`
	// RememberDevice trusts the browser (TwoFactor.TrustedDeviceTTL).
	RememberDevice bool `json:"remember_device"`
}

// finishPasskeyTwoFactor serves POST /passkeys/2fa/finish/: the answer of
// navigator.credentials.get() to a 2fa ceremony of the pending login
// session_token, which completes the login as /2fa/verify-login/ does with
// a code: the pending login is claimed for the check, the attempt counts
// against the 2FA budgets, a refused answer against the pending login's
// attempts, and an account changed since the password gives
// session_expired.
func (h *Handlers) finishPasskeyTwoFactor(w http.ResponseWriter, r *http.Request) error {
	var in finishTwoFactorRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("session_token", in.SessionToken)
	if !present(in.Credential) {
		f.add("credential", fieldRequired)
	}
	if err := f.err(); err != nil {
		return err
	}
	if err := h.limit(r, limitTwoFactor, h.deps.Limits.TwoFactor, ""); err != nil {
		return err
	}
	ctx := r.Context()
	p, err := h.sess.ClaimPending(ctx, in.SessionToken)
	if err != nil {
		return sessionProblem(err)
	}
	defer p.Release()
	if err := h.limitTwoFactorAccount(r, p.UserID); err != nil {
		return err
	}
	refused := func(err, perr error) error {
		if err != nil {
			h.log.DebugContext(ctx, "authsys: a passkey answer was refused", "ceremony", ceremonyTwoFactor, "error", err)
		}
		return h.pendingFailure(r, p, perr)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return refused(err, errPasskeyInvalid)
	}
	c, ok, err := h.takeCeremony(ctx, ceremonyTwoFactor, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return err
	}
	if !ok || c.UserID != p.UserID || c.Pending != session.Hash(in.SessionToken) {
		return refused(nil, errPasskeyInvalid)
	}
	pk, wu, data, ok, err := h.assertionUser(ctx, p.UserID, c, parsed)
	if err != nil {
		return err
	}
	if !ok {
		return refused(nil, errPasskeyInvalid)
	}
	if _, err := h.deps.WebAuthn.ValidateLogin(wu, data, parsed); err != nil {
		return refused(err, errPasskeyInvalid)
	}
	if err := h.recordUse(r, pk, "", parsed, ceremonyTwoFactor); err != nil {
		if errors.As(err, new(*Problem)) {
			return refused(nil, err)
		}
		return err
	}
	var first bool // the account had never signed in
	u, err := h.sess.UpdateUser(ctx, p.UserID, func(x *store.User) error {
		if x.TokenVersion != p.TokenVersion || !x.IsActive {
			return errStaleSession
		}
		first = x.LastLogin.IsZero()
		x.LastLogin = h.now()
		return nil
	})
	switch {
	case errors.Is(err, errStaleSession), errors.Is(err, store.ErrNotFound):
		// The password changed, every session was revoked or the account
		// was deactivated since the password step.
		if err := p.Discard(ctx); err != nil {
			return err
		}
		return errSessionExpired
	case err != nil:
		return err
	}
	if err := p.Complete(ctx); err != nil {
		return sessionProblem(err)
	}
	h.emit(r, Event{Kind: handlers.EventTwoFactorUsed, UserID: u.ID, Email: u.Email, Reason: methodPasskey})
	h.emit(r, Event{Kind: handlers.EventPasskeyUsed, UserID: u.ID, Email: u.Email, Reason: ceremonyTwoFactor})
	var device string // in token mode, for the answer
	if in.RememberDevice && h.deps.TwoFactor.TrustedDeviceTTL > 0 {
		value, err := h.sess.TrustDevice(ctx, u, h.client(r), h.deps.TwoFactor.TrustedDeviceTTL)
		if err != nil {
			return err
		}
		if tokenMode(r) {
			device = value
		} else {
			h.setCookie(w, h.deps.Cookies.TrustedDeviceName, value, h.deps.Cookies.RefreshPath, h.deps.TwoFactor.TrustedDeviceTTL)
		}
	}
	return h.finishLogin(w, r, u, "2fa_"+methodPasskey, first, time.Time{}, device)
}

// beginPasskeyReauth serves POST /passkeys/reauthenticate/begin/: the
// options of navigator.credentials.get() for the user of the session to
// confirm it with one of their passkeys, user verification required (the
// passkey alone stands for both factors). The begin budget is spent per IP
// and per account.
func (h *Handlers) beginPasskeyReauth(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := h.limit(r, limitPasskey, h.deps.Limits.Login, u.ID); err != nil {
		return err
	}
	ctx := r.Context()
	ps, err := h.deps.PasskeyStore.PasskeysByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return errNoPasskey
	}
	assertion, data, err := h.deps.WebAuthn.BeginLogin(&webauthnUser{handle: ps[0].UserHandle, name: u.Email, creds: credentialsOf(ps)},
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	c := ceremony{Kind: ceremonyReauth, UserID: u.ID, SessionID: claimsFromContext(ctx).SessionID, Data: *data}
	if err := h.beginCeremony(ctx, c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, assertion)
}

// finishPasskeyReauth serves POST /passkeys/reauthenticate/finish/: the
// answer of navigator.credentials.get() to a reauth ceremony that the same
// session began. Accepted, the session is fresh again, as after POST
// /reauthenticate/.
func (h *Handlers) finishPasskeyReauth(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in credentialRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if !present(in.Credential) {
		return fieldProblem(fields{"credential": {{Code: fieldRequired, Message: fieldMessages[fieldRequired]}}})
	}
	ctx := r.Context()
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		return h.passkeyRefused(r, u, ceremonyReauth, err, errPasskeyInvalid)
	}
	c, ok, err := h.takeCeremony(ctx, ceremonyReauth, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return err
	}
	if !ok || c.UserID != u.ID || c.SessionID != claimsFromContext(ctx).SessionID {
		return h.passkeyRefused(r, u, ceremonyReauth, nil, errPasskeyInvalid)
	}
	pk, wu, data, ok, err := h.assertionUser(ctx, u.ID, c, parsed)
	if err != nil {
		return err
	}
	if !ok {
		return h.passkeyRefused(r, u, ceremonyReauth, nil, errPasskeyInvalid)
	}
	if _, err := h.deps.WebAuthn.ValidateLogin(wu, data, parsed); err != nil {
		return h.passkeyRefused(r, u, ceremonyReauth, err, errPasskeyInvalid)
	}
	if err := h.recordUse(r, pk, u.Email, parsed, ceremonyReauth); err != nil {
		if errors.As(err, new(*Problem)) {
			return h.passkeyRefused(r, u, ceremonyReauth, nil, err)
		}
		return err
	}
	h.emit(r, Event{Kind: handlers.EventPasskeyUsed, UserID: u.ID, Reason: ceremonyReauth})
	return h.finishReauth(w, r, u, methodPasskey, "")
}

// adminListPasskeys serves the admin API's GET /users/{id}/passkeys/.
func (h *Handlers) adminListPasskeys(w http.ResponseWriter, r *http.Request, _ store.User) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	ps, err := h.Passkeys(r.Context(), id)
	if err != nil {
		return adminStoreErr(err)
	}
	return writeJSON(w, http.StatusOK, passkeyViews(ps))
}

// adminDeletePasskey serves the admin API's DELETE
// /users/{id}/passkeys/{pid}/ (fresh session).
func (h *Handlers) adminDeletePasskey(w http.ResponseWriter, r *http.Request, admin store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	id, err := targetID(r)
	if err != nil {
		return err
	}
	// An admin's own passkeys go as anyone's do (DELETE /passkeys/{id}/,
	// which keeps the admin's session), not by the admin API, which ends
	// every session of its target.
	if id == admin.ID {
		return problem(http.StatusConflict, handlers.CodeConflict, "admin.remove_own_passkey")
	}
	pid := r.PathValue("pid")
	if !plausibleID(pid) {
		return errNoSuchPasskey
	}
	if err := h.RemovePasskey(r.Context(), r, admin.ID, id, pid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchPasskey
		}
		return err
	}
	return h.writeMessage(w, r, "passkey.removed")
}

// Passkeys returns the passkeys of the user userID, oldest first:
// store.ErrNotFound for an unknown user, ErrPasskeysOff while passkeys are
// off.
func (h *Handlers) Passkeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	if h.deps.WebAuthn == nil {
		return nil, ErrPasskeysOff
	}
	if _, err := h.deps.Users.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	return h.deps.PasskeyStore.PasskeysByUser(ctx, userID)
}

// RemovePasskey removes the passkey passkeyID of the user userID for
// actor (an admin's ID, or an operator's name), emits EventPasskeyRemoved
// and mails the notice, which names no device (the request was not the
// user's); r, when not nil, is the request whose client the event names.
// An unknown user or passkey, or another user's: store.ErrNotFound;
// ErrPasskeysOff while passkeys are off.
func (h *Handlers) RemovePasskey(ctx context.Context, r *http.Request, actor, userID, passkeyID string) error {
	if h.deps.WebAuthn == nil {
		return ErrPasskeysOff
	}
	u, err := h.deps.Users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := h.deps.PasskeyStore.DeletePasskey(ctx, userID, passkeyID); err != nil {
		return err
	}
	anon, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return err
	}
	if r == nil {
		r = anon
	}
	h.emit(r, Event{Kind: handlers.EventPasskeyRemoved, UserID: userID, Email: u.Email, ActorID: actor, Reason: "admin"})
	// Every session ends: those the passkey opened among them.
	if u, err = h.sess.UpdateUser(ctx, userID, func(x *store.User) error { x.TokenVersion++; return nil }); err != nil {
		return err
	}
	h.endSessions(r, userID, "", session.ReasonRevoked)
	h.notify(anon, u, authmail.KindPasskeyRemoved, authmail.Data{})
	return nil
}

// removePasskeys removes every passkey of u (a password reset, which takes
// the account back, or an administrator's recovery): a passkey someone
// added from a stolen session must not outlive the owner's recovery, nor
// hold the owner's logins as a second factor only that someone has. It
// works whether or not passkeys are on (a store keeps them either way),
// and reports how many it removed. Each removal is emitted with reason.
func (h *Handlers) removePasskeys(r *http.Request, u store.User, actor, reason string) (int, error) {
	ps, ok := h.deps.Users.(store.PasskeyStore)
	if !ok {
		return 0, nil
	}
	list, err := ps.PasskeysByUser(r.Context(), u.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		_, err := ps.DeletePasskey(r.Context(), u.ID, p.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue // removed meanwhile, by another request
		case err != nil:
			return n, err
		}
		n++
		h.emit(r, Event{Kind: handlers.EventPasskeyRemoved, UserID: u.ID, Email: u.Email, ActorID: actor, Reason: reason})
	}
	return n, nil
}

// removePasskeysAgain follows a change that removed u's passkeys and then
// moved its token version: a passkey stored in between (a registration
// whose session check came before the move) is removed too, and if there
// was one the version moves again and every session ends, since a passkey
// login may have used it after the first move. A failure is logged: the
// change itself is done.
func (h *Handlers) removePasskeysAgain(r *http.Request, u store.User, actor, reason string) {
	n, err := h.removePasskeys(r, u, actor, reason)
	if err == nil && n > 0 {
		err = h.endEverySession(r, u.ID)
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "authsys: removing the passkeys of an account failed", "user_id", u.ID, "error", err)
	}
}

// endEverySession moves the token version of userID, which ends every
// session at once, and revokes the session records.
func (h *Handlers) endEverySession(r *http.Request, userID string) error {
	if _, err := h.sess.UpdateUser(r.Context(), userID, func(x *store.User) error { x.TokenVersion++; return nil }); err != nil {
		return err
	}
	h.endSessions(r, userID, "", session.ReasonRevoked)
	return nil
}

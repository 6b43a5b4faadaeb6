package server

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/authsys-go/authsys/handlers"
	authmail "github.com/authsys-go/authsys/mail"

	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// TrustedDeviceToken is the trusted device's token in token mode (a
	// cookie otherwise).
	TrustedDeviceToken string `json:"trusted_device_token"`
}

type loginResponse struct {
	Requires2FA  bool        `json:"requires_2fa"`
	User         *userJSON   `json:"user,omitempty"`
	SessionToken string      `json:"session_token,omitempty"`
	Tokens       *tokensJSON `json:"tokens,omitempty"`
	// Methods are the second factors that complete the pending login
	// (see secondFactors).
	Methods []string `json:"methods,omitempty"`
}

var errInvalidCredentials = problem(http.StatusUnauthorized, handlers.CodeInvalidCredentials, "login.invalid_credentials")

var errEmailNotVerified = problem(http.StatusForbidden, handlers.CodeEmailNotVerified, "login.email_not_verified")

func (h *Handlers) login(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("email", in.Email)
	f.required("password", in.Password)
	tokenModeOnly(r, f, "trusted_device_token", in.TrustedDeviceToken)
	if err := f.err(); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	account := email
	if !validEmail(email) {
		account = "" // never a key for a string that cannot be an account
	}
	if err := h.limit(r, "login", h.deps.Limits.Login, account); err != nil {
		return err
	}
	u, err := h.checkPassword(r, email, in.Password)
	if err != nil {
		return err
	}
	// The password is right and the account active: the application may
	// still refuse, before the second factor or a session.
	if err := h.beforeLogin(r, u); err != nil {
		return err
	}
	factors, err := h.secondFactors(r.Context(), u)
	if err != nil {
		return err
	}
	if len(factors) > 0 {
		// A trusted device of the account skips the second factor. The
		// session it starts is not fresh (only the password was shown):
		// its auth time lies just outside the re-authentication window.
		if _, ok := h.trustedDevice(r, u, in.TrustedDeviceToken); ok {
			return h.completeLogin(w, r, u, "password_trusted_device", h.now().Add(-h.deps.Sessions.ReauthWindow-time.Second))
		}
		token, err := h.sess.StartPending(r.Context(), u)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, loginResponse{Requires2FA: true, SessionToken: token, Methods: factors})
	}
	return h.completeLogin(w, r, u, "password", time.Time{})
}

// checkPassword verifies email and password the same way whether or not the
// account exists, upgrades a legacy hash, and refuses inactive accounts: a
// deactivated one with account_inactive, and one whose address is not
// verified with email_not_verified, sending it a new verification link. An
// unknown email, a string that cannot be an email (never looked up, so no
// backend sees it) and an account whose stored hash is unusable all cost
// one password verification, like a wrong password.
func (h *Handlers) checkPassword(r *http.Request, email, pw string) (store.User, error) {
	ctx := r.Context()
	unknown := func() (store.User, error) {
		if err := h.deps.Hasher.DummyVerify(ctx, pw); err != nil {
			return store.User{}, err
		}
		e := Event{Kind: handlers.EventLoginFailed, Reason: "unknown_email"}
		if validEmail(email) {
			// Only an address: a string of another shape may be a
			// password typed in the wrong field.
			e.Email = email
		}
		h.emit(r, e)
		return store.User{}, errInvalidCredentials
	}
	if !validEmail(email) {
		return unknown()
	}
	u, err := h.deps.Users.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return unknown()
	}
	if err != nil {
		return store.User{}, err
	}
	ok, rehash, err := h.deps.Hasher.Verify(ctx, pw, u.PasswordHash)
	switch {
	case err == nil:
	case errors.Is(err, password.ErrBusy):
		return store.User{}, err
	case errors.Is(err, password.ErrUnknownFormat):
		// No computation ran (an unusable or corrupt hash): spend it now.
		if err := h.deps.Hasher.DummyVerify(ctx, pw); err != nil {
			return store.User{}, err
		}
	default:
		h.log.WarnContext(ctx, "authsys: verifying a stored password hash failed", "user_id", u.ID, "error", err)
	}
	if !ok {
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "wrong_password"})
		return store.User{}, errInvalidCredentials
	}
	if !u.IsActive {
		if u.Disabled || u.EmailVerified {
			h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "inactive"})
			return store.User{}, problem(http.StatusForbidden, handlers.CodeAccountInactive, "login.account_deactivated")
		}
		// Waiting for its address to be verified (a signup, an imported
		// account): the right password earns a new link, within the
		// login budget and the daily cap on verification mails.
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "email_not_verified"})
		h.sendVerification(r, u)
		return store.User{}, errEmailNotVerified
	}
	if rehash {
		if nh, err := h.deps.Hasher.Hash(ctx, pw); err == nil {
			old := u.PasswordHash
			u2, err := h.sess.UpdateUser(ctx, u.ID, func(x *store.User) error {
				if x.PasswordHash == old && x.TokenVersion == u.TokenVersion {
					x.PasswordHash = nh
				}
				return nil
			})
			// Only the same account state is adopted: a password
			// change meanwhile bumped the token version, and the login
			// must not pick it up (completeLogin refuses it).
			if err == nil && u2.TokenVersion == u.TokenVersion {
				u = u2
			}
		}
	}
	return u, nil
}

// completeLogin records the login and starts a session, if the account is
// still as the password was checked against: the same token version (every
// password change, reset, email change, logout-all, revocation and
// deactivation bumps it) and active. A change that commits while the
// password is being hashed thus fails the login instead of being absorbed
// into a session that outlives it.
func (h *Handlers) completeLogin(w http.ResponseWriter, r *http.Request, u store.User, method string, authTime time.Time) error {
	var first bool // the account has never signed in
	now := h.now()
	checked, id, email := u.TokenVersion, u.ID, u.Email
	u, err := h.sess.UpdateUser(r.Context(), id, func(x *store.User) error {
		if x.TokenVersion != checked || !x.IsActive {
			return errInvalidCredentials
		}
		first = x.LastLogin.IsZero()
		x.LastLogin = now
		return nil
	})
	if errors.Is(err, errInvalidCredentials) {
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: id, Email: email, Reason: "account_changed"})
	}
	if err != nil {
		return err
	}
	return h.finishLogin(w, r, u, method, first, authTime, "")
}

// finishLogin starts a session for u, whose login is already recorded. In
// token mode the answer carries the session's tokens, and device, the
// token of a device trusted with this login, if any.
func (h *Handlers) finishLogin(w http.ResponseWriter, r *http.Request, u store.User, method string, firstSignIn bool, authTime time.Time, device string) error {
	newDevice := !firstSignIn && h.newDevice(r, u)
	tokens, err := h.startSession(w, r, u, authTime)
	if err != nil {
		return err
	}
	if tokens != nil && device != "" {
		tokens.TrustedDeviceToken, tokens.TrustedDeviceExpiresIn = device, seconds(h.deps.TwoFactor.TrustedDeviceTTL)
	}
	if newDevice {
		h.notify(r, u, authmail.KindNewDeviceSignIn, authmail.Data{})
	}
	h.emit(r, Event{Kind: handlers.EventLoginSucceeded, UserID: u.ID, Email: u.Email, Reason: method})
	pu := h.publicUser(u)
	return writeJSON(w, http.StatusOK, loginResponse{User: &pu, Tokens: tokens})
}

// newDevice reports whether the login r of u comes from a device not seen
// on its network among the account's recent sessions (the records not yet
// purged): no record has both the same device label and the same network
// (an IPv4 /24, an IPv6 /48), at login or at its last use. Matching the
// pair, a forged user agent alone does not hide a sign-in from a new
// network; an account whose records were all purged (dormant) has seen
// nothing. A failure to read the sessions is not reported.
func (h *Handlers) newDevice(r *http.Request, u store.User) bool {
	if slices.Contains(h.deps.Mail.SkipNotices, authmail.KindNewDeviceSignIn) {
		return false
	}
	recent, err := h.deps.SessionStore.SessionsByUser(r.Context(), u.ID)
	if err != nil {
		return false
	}
	label, network := session.Label(r.UserAgent()), networkOf(h.clientIP(r))
	for _, s := range recent {
		if (s.Label == label && networkOf(s.IP) == network) ||
			(session.Label(s.LastUserAgent) == label && networkOf(s.LastIP) == network) {
			return false
		}
	}
	return true
}

// networkOf is the network of ip a notice treats as one place: its /24
// (IPv4) or /48 (IPv6); "" when ip is not an address.
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := 24
	if a.Is6() && !a.Is4In6() {
		bits = 48
	}
	p, _ := a.Unmap().Prefix(bits)
	return p.String()
}

// trustedDevice returns the trusted device of u that r's cookie names (in
// token mode: body, the login's trusted_device_token), if the feature is
// on and the device is genuine and live.
func (h *Handlers) trustedDevice(r *http.Request, u store.User, body string) (store.Session, bool) {
	if h.deps.TwoFactor.TrustedDeviceTTL <= 0 {
		return store.Session{}, false
	}
	c := cookie(r, h.deps.Cookies.TrustedDeviceName)
	if tokenMode(r) {
		c = body
	}
	if c == "" {
		return store.Session{}, false
	}
	return h.sess.TrustedDevice(r.Context(), u, c)
}

package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authsys-go/authsys/internal/password"
	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// One-time token purposes.
const (
	purposeVerify = "verify_account"
	purposeReset  = "password_reset"
)

// verifyState binds a verification token to the address it was sent to,
// to the account being unverified (verifying kills it) and to the token
// version (an admin's deactivation or revocation kills it too, so an old
// link cannot reactivate an account an admin shut).
func verifyState(u store.User) string {
	return "v2|" + u.Email + "|" + strconv.FormatBool(u.EmailVerified) + "|" + strconv.FormatInt(u.TokenVersion, 10)
}

// resetState binds a reset token to the current password and token version:
// any password change, reset or logout-all kills it.
func resetState(u store.User) string {
	return "r1|" + u.PasswordHash + "|" + strconv.FormatInt(u.TokenVersion, 10) + "|" + u.Email
}

// validEmail reports whether s (already trimmed) is a plain address: at
// most 254 bytes of printable UTF-8 (no control or format characters such
// as NUL, CR LF or bidi overrides, no white space), one address without a
// display name.
func validEmail(s string) bool {
	if len(s) > 254 || !utf8.ValidString(s) || strings.ContainsAny(s, " <>") || strings.ContainsFunc(s, notPrintable) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func (h *Handlers) checkNewPassword(f fields, field, pw, email string) {
	if !f.required(field, pw) {
		return
	}
	for _, msg := range password.Validate(pw, email) {
		f.add(field, msg)
	}
}

// link builds an absolute link on the frontend: FrontendURL + path + query.
func (h *Handlers) link(path string, q url.Values) string {
	u := h.deps.FrontendURL.JoinPath(path)
	u.RawQuery = q.Encode()
	return u.String()
}

// sendMail renders and sends a message in the background, so a slow or
// failing mail server never holds the request; failures are logged and
// emitted. Shutdown waits for sends in flight.
func (h *Handlers) sendMail(r *http.Request, kind, to, userID string, data authmail.Data) {
	if data.AppName == "" {
		data.AppName = h.deps.AppName
	}
	msg, err := h.deps.Templates.Render(kind, h.deps.FromEmail, to, data)
	if err != nil {
		h.log.ErrorContext(r.Context(), "authsys: rendering mail failed", "kind", kind, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.deps.MailTimeout)
	// The request is over when a send fails: its client is noted now.
	failed := Event{Kind: EventMailFailed, UserID: userID, Reason: kind, IP: h.clientIP(r), UserAgent: r.UserAgent()}
	h.mailWG.Add(1)
	go func() {
		defer h.mailWG.Done()
		defer cancel()
		if err := h.deps.Mailer.Send(ctx, msg); err != nil {
			h.log.ErrorContext(ctx, "authsys: sending mail failed", "kind", kind, "user_id", userID, "error", err)
			h.emit(nil, failed)
		}
	}()
}

func humanDuration(d time.Duration) string {
	hrs := d.Hours()
	switch {
	case hrs >= 48:
		return fmt.Sprintf("%d days", int(hrs/24))
	case hrs >= 2:
		return fmt.Sprintf("%d hours", int(hrs))
	case hrs >= 1:
		return "1 hour"
	default:
		return fmt.Sprintf("%d minutes", int(hrs*60))
	}
}

func (h *Handlers) sendVerification(r *http.Request, u store.User) {
	token := h.deps.Tokens.SignOneTime(purposeVerify, u.ID, verifyState(u), h.deps.VerificationTTL)
	link := h.link(h.deps.VerifyAccountPath, url.Values{"uid": {u.ID}, "token": {token}})
	h.sendMail(r, authmail.KindVerifyAccount, u.Email, u.ID, authmail.Data{Email: u.Email, Link: link, ExpiresIn: humanDuration(h.deps.VerificationTTL)})
}

func (h *Handlers) sendReset(r *http.Request, u store.User) {
	token := h.deps.Tokens.SignOneTime(purposeReset, u.ID, resetState(u), h.deps.PasswordResetTTL)
	link := h.link(h.deps.PasswordResetPath, url.Values{"uid": {u.ID}, "token": {token}})
	h.sendMail(r, authmail.KindPasswordReset, u.Email, u.ID, authmail.Data{Email: u.Email, Link: link, ExpiresIn: humanDuration(h.deps.PasswordResetTTL)})
}

// ---- signup and verification ----

const signupAnswer = "Check your email to verify your account."

// verifiedSetPassword answers the verification of an account whose signup
// was contested (see contestSignup).
const verifiedSetPassword = "Your email address is verified. It was used for more than one signup with different passwords, so none was kept: choose your password with the link we have just sent."

func (h *Handlers) signup(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decode(w, r, &in); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	f := fields{}
	if f.required("email", in.Email) && !validEmail(email) {
		f.add("email", "Enter a valid email address.")
	}
	h.checkNewPassword(f, "password", in.Password, email)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.limit(r, "signup", h.deps.Limits.Signup, email); err != nil {
		return err
	}
	// Hash before looking at the email, so a taken address costs the
	// same time as a free one.
	hash, err := h.deps.Hasher.Hash(r.Context(), in.Password)
	if err != nil {
		return err
	}
	u, err := h.deps.Users.CreateUser(r.Context(), store.User{
		Email: email, PasswordHash: hash, DateJoined: h.now().UTC(),
	})
	switch {
	case err == nil:
		h.emit(r, Event{Kind: EventSignup, UserID: u.ID})
		h.sendVerification(r, u)
	case errors.Is(err, store.ErrEmailTaken):
		existing, err := h.deps.Users.UserByEmail(r.Context(), email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			h.emit(r, Event{Kind: EventSignupExisting, UserID: existing.ID})
			switch {
			case existing.Disabled:
				// Deactivated by an administrator: no link could help.
			case existing.EmailVerified:
				link := h.link(h.deps.PasswordResetPath, nil)
				h.sendMail(r, authmail.KindSignupAttempt, existing.Email, existing.ID, authmail.Data{Email: existing.Email, Link: link})
			default:
				h.contestSignup(r, existing, in.Password)
			}
		}
	default:
		return err
	}
	return writeJSON(w, http.StatusCreated, message{signupAnswer})
}

// contestSignup answers a signup for an address whose account exists but
// is unverified. Whoever signed up first may not own the address (a
// pre-hijack: an attacker signs up with the victim's email and waits for
// the victim to verify it), so when the new password differs from the
// stored one, neither is kept: the stored hash becomes unusable and the
// token version moves (every link sent so far dies). Verification then
// sends a password-reset link to the address, and only its owner sets the
// password. The same password twice (a double submit) changes nothing.
// Then a verification link goes out. The comparison costs a hash, so it
// runs in the background (tracked like mail, see Shutdown): the answer
// costs the same as for a free address.
func (h *Handlers) contestSignup(r *http.Request, existing store.User, pw string) {
	r = r.Clone(context.WithoutCancel(r.Context()))
	timeout := h.deps.RequestTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	h.mailWG.Add(1)
	go func() {
		defer h.mailWG.Done()
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		same, _, err := h.deps.Hasher.Verify(ctx, pw, existing.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
			// Undecided (busy, timed out): keep neither password.
			same = false
		}
		u := existing
		if !same {
			u, err = h.deps.Users.UpdateUser(ctx, existing.ID, func(x *store.User) error {
				if x.EmailVerified || x.Disabled {
					return errVerifiedMeanwhile
				}
				x.PasswordHash = ""
				x.TokenVersion++
				return nil
			})
			if errors.Is(err, errVerifiedMeanwhile) {
				return
			}
			if err != nil {
				h.log.ErrorContext(ctx, "authsys: discarding the password of a contested signup failed", "user_id", existing.ID, "error", err)
				return
			}
			h.emit(r, Event{Kind: EventSignupExisting, UserID: u.ID, Reason: "password_discarded"})
		}
		h.sendVerification(r.WithContext(ctx), u)
	}()
}

// errVerifiedMeanwhile stops a contested signup whose account was verified
// (or deactivated) in the meantime: it is no longer anyone's to claim.
var errVerifiedMeanwhile = errors.New("account verified meanwhile")

type uidToken struct {
	UID   string `json:"uid"`
	Token string `json:"token"`
}

// readUIDToken takes uid and token from the query (GET) or the body (POST).
func readUIDToken(w http.ResponseWriter, r *http.Request) (uidToken, error) {
	var in uidToken
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q := r.URL.Query()
		in = uidToken{UID: q.Get("uid"), Token: q.Get("token")}
	} else if err := decode(w, r, &in); err != nil {
		return in, err
	}
	f := fields{}
	f.required("uid", in.UID)
	f.required("token", in.Token)
	return in, f.err()
}

var errInvalidLink = problem(http.StatusBadRequest, CodeInvalidToken, "The link is invalid or has already been used.")

// oneTimeProblem maps a one-time token failure to its problem.
func oneTimeProblem(err error) error {
	if errors.Is(err, tokens.ErrExpired) {
		return problem(http.StatusBadRequest, CodeTokenExpired, "The link has expired; ask for a new one.")
	}
	if errors.Is(err, tokens.ErrInvalid) {
		return errInvalidLink
	}
	return err
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

// maxUIDLen bounds the uid of a link; store IDs are far shorter.
const maxUIDLen = 256

// plausibleID reports whether id could be a store ID: short, valid UTF-8
// without control characters. Anything else is refused before a backend
// sees it (a NUL byte is an error in PostgreSQL, not a miss).
func plausibleID(id string) bool {
	if len(id) > maxUIDLen || !utf8.ValidString(id) {
		return false
	}
	return !strings.ContainsFunc(id, unicode.IsControl)
}

// userForToken loads the user a uid names; an unknown uid is an invalid
// link, not a 404.
func (h *Handlers) userForToken(ctx context.Context, uid string) (store.User, error) {
	if !plausibleID(uid) {
		return store.User{}, errInvalidLink
	}
	u, err := h.deps.Users.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return u, errInvalidLink
	}
	return u, err
}

func (h *Handlers) verifyAccount(w http.ResponseWriter, r *http.Request) error {
	in, err := readUIDToken(w, r)
	if err != nil {
		return err
	}
	u, err := h.userForToken(r.Context(), in.UID)
	if err != nil {
		return err
	}
	tm := h.deps.Tokens
	if err := tm.VerifyOneTime(in.Token, purposeVerify, u.ID, verifyState(u)); err != nil {
		return oneTimeProblem(err)
	}
	u, err = h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if err := tm.VerifyOneTime(in.Token, purposeVerify, x.ID, verifyState(*x)); err != nil {
			return oneTimeProblem(err)
		}
		if x.Disabled {
			// An administrator deactivated the account: verifying the
			// address does not bring it back.
			return errInvalidLink
		}
		x.EmailVerified = true
		x.IsActive = true
		return nil
	})
	if err != nil {
		return err
	}
	h.emit(r, Event{Kind: EventAccountVerified, UserID: u.ID})
	if u.PasswordHash == "" {
		// A contested signup kept no password: the owner of the address,
		// who has just proved it, chooses one.
		h.sendReset(r, u)
		return writeMessage(w, verifiedSetPassword)
	}
	return writeMessage(w, "Your account is verified; you can log in.")
}

type emailOnly struct {
	Email string `json:"email"`
}

// readEmail decodes {email} and validates its shape.
func readEmail(w http.ResponseWriter, r *http.Request) (string, error) {
	var in emailOnly
	if err := decode(w, r, &in); err != nil {
		return "", err
	}
	email := store.NormalizeEmail(in.Email)
	f := fields{}
	if f.required("email", in.Email) && !validEmail(email) {
		f.add("email", "Enter a valid email address.")
	}
	return email, f.err()
}

const resendAnswer = "If an unverified account uses this address, a new verification email is on its way."

func (h *Handlers) resendVerification(w http.ResponseWriter, r *http.Request) error {
	email, err := readEmail(w, r)
	if err != nil {
		return err
	}
	if err := h.limit(r, "signup", h.deps.Limits.Signup, email); err != nil {
		return err
	}
	u, err := h.deps.Users.UserByEmail(r.Context(), email)
	switch {
	case err == nil:
		if !u.EmailVerified && !u.Disabled {
			h.sendVerification(r, u)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return writeMessage(w, resendAnswer)
}

// ---- password reset and change ----

const resetAnswer = "If an account uses this address, a password reset email is on its way."

func (h *Handlers) passwordReset(w http.ResponseWriter, r *http.Request) error {
	email, err := readEmail(w, r)
	if err != nil {
		return err
	}
	if err := h.limit(r, "password_reset", h.deps.Limits.PasswordReset, email); err != nil {
		return err
	}
	u, err := h.deps.Users.UserByEmail(r.Context(), email)
	switch {
	case err == nil:
		if u.IsActive {
			h.emit(r, Event{Kind: EventPasswordResetRequest, UserID: u.ID})
			h.sendReset(r, u)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return writeMessage(w, resetAnswer)
}

type resetConfirm struct {
	UID         string `json:"uid"`
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (h *Handlers) passwordResetConfirm(w http.ResponseWriter, r *http.Request) error {
	var in resetConfirm
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("uid", in.UID)
	f.required("token", in.Token)
	f.required("new_password", in.NewPassword)
	if err := f.err(); err != nil {
		return err
	}
	u, err := h.userForToken(r.Context(), in.UID)
	if err != nil {
		return err
	}
	tm := h.deps.Tokens
	if err := tm.VerifyOneTime(in.Token, purposeReset, u.ID, resetState(u)); err != nil {
		return oneTimeProblem(err)
	}
	h.checkNewPassword(f, "new_password", in.NewPassword, u.Email)
	if err := f.err(); err != nil {
		return err
	}
	hash, err := h.deps.Hasher.Hash(r.Context(), in.NewPassword)
	if err != nil {
		return err
	}
	// The token is checked again on the row being written: of concurrent
	// confirms only the first finds the state it was issued for.
	u, err = h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if err := tm.VerifyOneTime(in.Token, purposeReset, x.ID, resetState(*x)); err != nil {
			return oneTimeProblem(err)
		}
		x.PasswordHash = hash
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return err
	}
	h.clearCookies(w)
	h.emit(r, Event{Kind: EventPasswordReset, UserID: u.ID})
	return writeMessage(w, "Your password has been reset; log in with the new one.")
}

type changePassword struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

var errWrongPassword = &Problem{Status: http.StatusBadRequest, Code: CodeInvalidPassword, Title: http.StatusText(http.StatusBadRequest),
	Detail: "The password is incorrect."}

// verifyOwnPassword checks an authenticated user's password. Each check
// counts against the login budget of the client IP and the account, so a
// stolen session is no unlimited password oracle.
func (h *Handlers) verifyOwnPassword(r *http.Request, u store.User, field, pw string) error {
	if err := h.limit(r, "login", h.deps.Limits.Login, u.Email); err != nil {
		return err
	}
	ok, _, err := h.deps.Hasher.Verify(r.Context(), pw, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		return err
	}
	if !ok {
		p := *errWrongPassword
		p.Errors = map[string][]string{field: {"The password is incorrect."}}
		return &p
	}
	return nil
}

func (h *Handlers) changePassword(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in changePassword
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("current_password", in.CurrentPassword)
	h.checkNewPassword(f, "new_password", in.NewPassword, u.Email)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.verifyOwnPassword(r, u, "current_password", in.CurrentPassword); err != nil {
		return err
	}
	hash, err := h.deps.Hasher.Hash(r.Context(), in.NewPassword)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	u, err = h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.PasswordHash != old {
			return problem(http.StatusConflict, CodeConflict, "The password was changed by another request; try again.")
		}
		x.PasswordHash = hash
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return err
	}
	h.emit(r, Event{Kind: EventPasswordChanged, UserID: u.ID})
	if h.deps.UpdateSessionAuthHash {
		if err := h.startSession(w, u); err != nil {
			return err
		}
		return writeMessage(w, "Your password has been changed.")
	}
	h.clearCookies(w)
	return writeMessage(w, "Your password has been changed; log in again.")
}

// ---- email change ----

type changeEmail struct {
	NewEmail string `json:"new_email"`
	Password string `json:"password"`
}

// pendingEmail is what the PendingStore keeps for a requested email change;
// the link carries only a random token whose hash is the key.
type pendingEmail struct {
	UserID       string `json:"uid"`
	NewEmail     string `json:"new_email"`
	TokenVersion int64  `json:"tv"`
	OldEmail     string `json:"old_email"`
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const changeEmailAnswer = "Check the new address for a confirmation link."

func (h *Handlers) changeEmail(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in changeEmail
	if err := decode(w, r, &in); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.NewEmail)
	f := fields{}
	if f.required("new_email", in.NewEmail) {
		switch {
		case !validEmail(email):
			f.add("new_email", "Enter a valid email address.")
		case email == u.Email:
			f.add("new_email", "This is already your email address.")
		}
	}
	f.required("password", in.Password)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
		return err
	}
	// A taken address gets the same answer and no mail: the change could
	// never be confirmed, and the answer must not reveal who has an account.
	_, err := h.deps.Users.UserByEmail(r.Context(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		token := tokens.NewID() + tokens.NewID()
		rec, _ := json.Marshal(pendingEmail{UserID: u.ID, NewEmail: email, TokenVersion: u.TokenVersion, OldEmail: u.Email})
		if err := h.deps.Pending.PutPending(r.Context(), h.key("email", hashToken(token)), rec, h.deps.PendingEmailTTL); err != nil {
			return err
		}
		link := h.link(h.deps.EmailChangePath, url.Values{"token": {token}})
		h.sendMail(r, authmail.KindEmailChangeConfirm, email, u.ID, authmail.Data{Email: u.Email, NewEmail: email, Link: link, ExpiresIn: humanDuration(h.deps.PendingEmailTTL)})
		h.emit(r, Event{Kind: EventEmailChangeRequested, UserID: u.ID})
	case err != nil:
		return err
	}
	return writeMessage(w, changeEmailAnswer)
}

type tokenOnly struct {
	Token string `json:"token"`
}

func (h *Handlers) changeEmailConfirm(w http.ResponseWriter, r *http.Request) error {
	var in tokenOnly
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		in.Token = r.URL.Query().Get("token")
	} else if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("token", in.Token)
	if err := f.err(); err != nil {
		return err
	}
	ctx := r.Context()
	key := h.key("email", hashToken(in.Token))
	raw, err := h.deps.Pending.GetPending(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidLink
	}
	if err != nil {
		return err
	}
	var rec pendingEmail
	if err := json.Unmarshal(raw, &rec); err != nil {
		return errInvalidLink
	}
	// The token version check inside the update makes the link single use
	// (the change bumps it) and kills it when the password changed since.
	u, err := h.deps.Users.UpdateUser(ctx, rec.UserID, func(x *store.User) error {
		if x.TokenVersion != rec.TokenVersion || x.Email != rec.OldEmail || !x.IsActive {
			return errInvalidLink
		}
		x.Email = rec.NewEmail
		x.EmailVerified = true
		x.TokenVersion++
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errInvalidLink
	case errors.Is(err, store.ErrEmailTaken):
		_ = h.deps.Pending.DeletePending(ctx, key)
		return problem(http.StatusConflict, CodeEmailTaken, "This email address is already in use.")
	case err != nil:
		return err
	}
	if err := h.deps.Pending.DeletePending(ctx, key); err != nil {
		h.log.WarnContext(ctx, "authsys: deleting a used email-change record failed", "error", err)
	}
	h.clearCookies(w)
	h.sendMail(r, authmail.KindEmailChangedNotice, rec.OldEmail, u.ID, authmail.Data{Email: rec.OldEmail, NewEmail: authmail.MaskEmail(rec.NewEmail)})
	h.emit(r, Event{Kind: EventEmailChanged, UserID: u.ID})
	return writeMessage(w, "Your email address has been changed; log in again.")
}

package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/internal/password"
	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

// verifyState binds a verification token to the address it was sent to,
// to the account being unverified (verifying kills it) and to the token
// version (an admin's deactivation or revocation kills it too, so an old
// link cannot reactivate an account an admin shut).
func verifyState(u store.User) string {
	return "v2|" + u.Email + "|" + strconv.FormatBool(u.EmailVerified) + "|" + strconv.FormatInt(u.TokenVersion, 10)
}

func (h *Handlers) sendVerification(r *http.Request, u store.User) {
	token := h.deps.Tokens.SignOneTime(purposeVerify, u.ID, verifyState(u), h.deps.Links.VerifyAccountTTL)
	link := h.link(h.deps.Links.VerifyAccountPath, url.Values{"uid": {u.ID}, "token": {token}})
	h.sendMail(r, authmail.KindVerifyAccount, u.Email, u, h.deps.Links.VerifyAccountTTL, authmail.Data{Email: u.Email, Link: link})
}

// signup creates an account. In order: the body's fields are checked
// (email, password, the declared profile fields' presence and type), the
// rate limit is applied, each profile field's Validate runs, then
// Hooks.BeforeSignup; only then is anything looked up or stored, so that
// all of it happens alike whether or not the address has an account.
func (h *Handlers) signup(w http.ResponseWriter, r *http.Request) error {
	in, extra, err := h.readSignup(w, r)
	if err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	f := fields{}
	if f.required("email", in.Email) && !validEmail(email) {
		f.add("email", fieldInvalidEmail)
	}
	if err := h.checkNewPassword(r, f, "password", "", email, in.Password); err != nil {
		return err
	}
	values := h.checkProfile(f, extra)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.limit(r, "signup", h.deps.Limits.Signup, email); err != nil {
		return err
	}
	if err := h.checkBreached(r, "password", in.Password); err != nil {
		return err
	}
	profile, err := h.validateProfile(r.Context(), values)
	if err != nil {
		return err
	}
	if err := h.beforeSignup(r, email, profile); err != nil {
		return err
	}
	// Hash before looking at the email, so a taken address costs the
	// same time as a free one.
	hash, err := h.deps.Hasher.Hash(r.Context(), in.Password)
	if err != nil {
		return err
	}
	u, err := h.deps.Users.CreateUser(r.Context(), store.User{
		Email: email, PasswordHash: hash, DateJoined: h.now().UTC(), Profile: profile,
	})
	switch {
	case err == nil:
		h.emit(r, Event{Kind: handlers.EventSignup, UserID: u.ID, Email: u.Email})
		h.sendVerification(r, u)
	case errors.Is(err, store.ErrEmailTaken):
		existing, err := h.deps.Users.UserByEmail(r.Context(), email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			h.emit(r, Event{Kind: handlers.EventSignupExisting, UserID: existing.ID, Email: existing.Email})
			switch {
			case existing.Disabled:
				// Deactivated by an administrator: no link could help.
			case existing.EmailVerified:
				link := h.link(h.deps.Links.PasswordResetPath, nil)
				h.sendMail(r, authmail.KindSignupAttempt, existing.Email, existing, 0, authmail.Data{Email: existing.Email, Link: link})
			default:
				h.contestSignup(r, existing, in.Password, profile)
			}
		}
	default:
		return err
	}
	return h.writeMessageStatus(w, r, http.StatusCreated, "signup.check_email")
}

// contestSignup answers a signup for an address whose account exists but
// is unverified. Whoever signed up first may not own the address (a
// pre-hijack: an attacker signs up with the victim's email and waits for
// the victim to verify it), so when the new password differs from the
// stored one, neither is kept: the stored hash becomes unusable and the
// token version moves (every link sent so far dies). Verification then
// sends a password-reset link to the address, and only its owner sets the
// password. The declared profile fields then take the values of the new
// signup, which are no less trustworthy than the first one's. The same
// password twice (a double submit) changes nothing. Then a verification
// link goes out. The comparison costs a hash, so it runs in the
// background (tracked like mail, see Shutdown): the answer costs the same
// as for a free address.
func (h *Handlers) contestSignup(r *http.Request, existing store.User, pw string, profile map[string]any) {
	r = r.Clone(context.WithoutCancel(r.Context()))
	h.mailWG.Add(1)
	go func() {
		defer h.mailWG.Done()
		ctx, cancel := context.WithTimeout(r.Context(), h.workTimeout())
		defer cancel()
		same, _, err := h.deps.Hasher.Verify(ctx, pw, existing.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
			// Undecided (busy, timed out): keep neither password.
			same = false
		}
		u := existing
		if same {
			// Nothing to discard; send the link only to an account that
			// still waits for one.
			if u, err = h.deps.Users.UserByID(ctx, existing.ID); err != nil || u.EmailVerified || u.Disabled {
				return
			}
		} else {
			u, err = h.sess.UpdateUser(ctx, existing.ID, func(x *store.User) error {
				if x.EmailVerified || x.Disabled {
					return errVerifiedMeanwhile
				}
				x.PasswordHash = ""
				x.TokenVersion++
				for _, f := range h.deps.Profile.Fields {
					if v, ok := profile[f.Name]; ok {
						if x.Profile == nil {
							x.Profile = map[string]any{}
						}
						x.Profile[f.Name] = v
					} else {
						delete(x.Profile, f.Name)
					}
				}
				return nil
			})
			if errors.Is(err, errVerifiedMeanwhile) {
				return
			}
			if err != nil {
				h.log.ErrorContext(ctx, "authsys: discarding the password of a contested signup failed", "user_id", existing.ID, "error", err)
				return
			}
			h.emit(r, Event{Kind: handlers.EventSignupExisting, UserID: u.ID, Email: u.Email, Reason: "password_discarded"})
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
	if r.Method == http.MethodGet {
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

var errInvalidLink = problem(http.StatusBadRequest, handlers.CodeInvalidToken, "link.invalid")

// oneTimeProblem maps a one-time token failure to its problem.
func oneTimeProblem(err error) error {
	if errors.Is(err, tokens.ErrExpired) {
		return problem(http.StatusBadRequest, handlers.CodeTokenExpired, "link.expired")
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
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
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
	h.emit(r, Event{Kind: handlers.EventAccountVerified, UserID: u.ID, Email: u.Email})
	if u.PasswordHash == "" {
		// A contested signup kept no password: the owner of the address,
		// who has just proved it, chooses one.
		h.sendReset(r, u)
		return h.writeMessage(w, r, "verify.choose_password")
	}
	return h.writeMessage(w, r, "verify.done")
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
		f.add("email", fieldInvalidEmail)
	}
	return email, f.err()
}

func (h *Handlers) resendVerification(w http.ResponseWriter, r *http.Request) error {
	email, err := readEmail(w, r)
	if err != nil {
		return err
	}
	if err := h.limit(r, "signup", h.deps.Limits.Signup, email); err != nil {
		return err
	}
	u, err := h.deps.Users.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	h.afterAnswer(r, func(r *http.Request) {
		if err == nil && !u.EmailVerified && !u.Disabled {
			h.sendVerification(r, u)
		}
	})
	return h.writeMessage(w, r, "verify.resend_sent")
}

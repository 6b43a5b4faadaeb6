package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authsys-go/authsys/internal/session"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/internal/password"
	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
)

// resetState binds a reset token to the current password and token version:
// any password change, reset or logout-all kills it.
func resetState(u store.User) string {
	return "r1|" + u.PasswordHash + "|" + strconv.FormatInt(u.TokenVersion, 10) + "|" + u.Email
}

// BreachChecker is authsys.BreachChecker.
type BreachChecker interface {
	Breached(ctx context.Context, password string) (bool, error)
}

// checkNewPassword checks pw, the new password of the account userID
// (empty at signup) whose address is email, and records its field errors
// in f under field. Whatever the policy, the password must be present and
// at most password.MaxLength bytes (the bounds that protect the hasher);
// only a password within them goes to the policy (Deps.PasswordPolicy).
// The breach check follows separately (checkBreached), after the rate
// limit.
// The error is a problem to answer as it is (a *Problem from the policy, a
// 503 from the breach check) or the policy's failure.
func (h *Handlers) checkNewPassword(r *http.Request, f fields, field, userID, email, pw string) error {
	if !f.required(field, pw) {
		return nil
	}
	if len(pw) > password.MaxLength {
		f.add(field, password.CodeTooLong)
		return nil
	}
	ctx := r.Context()
	if h.deps.PasswordPolicy == nil {
		for _, code := range password.Validate(pw, email) {
			f.add(field, code)
		}
		if len(f[field]) > 0 {
			return nil
		}
	} else if err := h.deps.PasswordPolicy(ctx, userID, email, pw); err != nil {
		return policyRefusal(f, field, err)
	}
	return nil
}

// resettable reports whether a password reset may reach u: an active
// account, or an unverified one (which the reset verifies), never a
// Disabled one.
func resettable(u store.User) bool {
	return !u.Disabled && (u.IsActive || !u.EmailVerified)
}

// checkBreached refuses pw, a new password that passed checkNewPassword,
// when the breach check (Deps.Breached) finds it: a validation problem on
// field, or 503 when the check cannot answer. It runs after the request's
// rate limit, so that no client makes unbounded calls to the breach API.
func (h *Handlers) checkBreached(r *http.Request, field, pw string) error {
	if h.deps.Breached == nil {
		return nil
	}
	breached, err := h.deps.Breached.Breached(r.Context(), pw)
	switch {
	case err != nil:
		return unavailable(fmt.Errorf("password breach check: %w", err))
	case breached:
		f := fields{}
		f.add(field, fieldPasswordBreached)
		return f.err()
	}
	return nil
}

// policyRefusal turns the error of a password policy into what the
// request answers: field errors (a *FieldError, or several joined) are
// recorded in f under field, a *Problem is returned as it is, and any
// other error is returned to fail the request (503 or 500, see
// toProblem).
func policyRefusal(f fields, field string, err error) error {
	if errs, ok := policyFieldErrors(err); ok {
		for _, fe := range errs {
			f[field] = append(f[field], fe)
		}
		return nil
	}
	var p *Problem
	if errors.As(err, &p) && p != nil {
		if p.Status < 400 || p.Status > 599 || p.Code == "" {
			return fmt.Errorf("password policy: got a Problem with status %d and code %q, want a 4xx or 5xx status and a code", p.Status, p.Code)
		}
		// A copy: the policy may return one Problem to every request,
		// and rendering fills in its Title.
		q := *p
		return &q
	}
	return fmt.Errorf("password policy: %w", err)
}

// policyFieldErrors returns the field errors err is made of: a
// *FieldError, or errors joined (errors.Join) or wrapped (fmt.Errorf with
// %w) around field errors only. It reports false when anything else is in
// err, or a field error has no code.
func policyFieldErrors(err error) ([]handlers.FieldError, bool) {
	switch x := err.(type) {
	case *handlers.FieldError:
		if x == nil || x.Code == "" {
			return nil, false
		}
		return []handlers.FieldError{*x}, true
	case *Problem:
		return nil, false
	case interface{ Unwrap() []error }:
		var out []handlers.FieldError
		for _, e := range x.Unwrap() {
			errs, ok := policyFieldErrors(e)
			if !ok {
				return nil, false
			}
			out = append(out, errs...)
		}
		return out, len(out) > 0
	case interface{ Unwrap() error }:
		return policyFieldErrors(x.Unwrap())
	}
	return nil, false
}

func (h *Handlers) sendReset(r *http.Request, u store.User) {
	token := h.deps.Tokens.SignOneTime(purposeReset, u.ID, resetState(u), h.deps.Links.PasswordResetTTL)
	link := h.link(h.deps.Links.PasswordResetPath, url.Values{"uid": {u.ID}, "token": {token}})
	h.sendMail(r, authmail.KindPasswordReset, u.Email, u, h.deps.Links.PasswordResetTTL, authmail.Data{Email: u.Email, Link: link})
}

func (h *Handlers) passwordReset(w http.ResponseWriter, r *http.Request) error {
	email, err := readEmail(w, r)
	if err != nil {
		return err
	}
	if err := h.limit(r, "password_reset", h.deps.Limits.PasswordReset, email); err != nil {
		return err
	}
	u, err := h.deps.Users.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	h.afterAnswer(r, func(r *http.Request) {
		// An active account, and an unverified one (a signup, an imported
		// account), which the reset verifies: it proves control of the
		// address as a verification link does. Not an account an
		// administrator deactivated (Disabled), nor one that is verified
		// yet inactive (the application shut it): a reset must not
		// reopen it.
		if err == nil && resettable(u) {
			h.emit(r, Event{Kind: handlers.EventPasswordResetRequest, UserID: u.ID, Email: u.Email})
			h.sendReset(r, u)
		}
	})
	return h.writeMessage(w, r, "password.reset_sent")
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
	if err := h.checkNewPassword(r, f, "new_password", u.ID, u.Email, in.NewPassword); err != nil {
		return err
	}
	if err := f.err(); err != nil {
		return err
	}
	if err := h.checkBreached(r, "new_password", in.NewPassword); err != nil {
		return err
	}
	hash, err := h.deps.Hasher.Hash(r.Context(), in.NewPassword)
	if err != nil {
		return err
	}
	if !resettable(u) {
		return errInvalidLink
	}
	// The reset takes the account back: no passkey survives it (one added
	// from a stolen session would log its holder in, and ask the owner for
	// itself as a second factor). They go before the token version moves,
	// so that a passkey login that used one before its removal holds the
	// old version and dies with it, and a failure here leaves the reset
	// undone (the link still works; a retry removes the rest). A
	// passkey stored in between is removed after the write, and the
	// version moves once more (see removePasskeysAgain).
	if _, err := h.removePasskeys(r, u, "", "password_reset"); err != nil {
		return err
	}
	// The token is checked again on the row being written: of concurrent
	// confirms only the first finds the state it was issued for. The link
	// reached the address, so the reset also verifies an unverified
	// account and makes it active, unless an administrator deactivated it.
	// Whoever signed up with the address before its owner (a
	// pre-hijacker) loses the password they chose and the profile fields
	// they gave.
	var verified bool
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if err := tm.VerifyOneTime(in.Token, purposeReset, x.ID, resetState(*x)); err != nil {
			return oneTimeProblem(err)
		}
		if !resettable(*x) {
			return errInvalidLink
		}
		x.PasswordHash = hash
		x.TokenVersion++
		if !x.EmailVerified {
			verified = true
			x.EmailVerified, x.IsActive = true, true
			for _, f := range h.deps.Profile.Fields {
				delete(x.Profile, f.Name)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.endSessions(r, u.ID, "", session.ReasonAccount)
	h.clearCookies(w, r)
	h.removePasskeysAgain(r, u, "", "password_reset")
	if verified {
		h.emit(r, Event{Kind: handlers.EventAccountVerified, UserID: u.ID, Email: u.Email, Reason: "password_reset"})
	}
	h.emit(r, Event{Kind: handlers.EventPasswordReset, UserID: u.ID, Email: u.Email})
	h.notify(r, u, authmail.KindPasswordResetDone, authmail.Data{})
	return h.writeMessage(w, r, "password.reset_done")
}

type changePassword struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

var errWrongPassword = problem(http.StatusBadRequest, handlers.CodeInvalidPassword, "password.incorrect")

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
		p.Errors = fields{}
		fields(p.Errors).add(field, fieldWrongPassword)
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
	if err := h.checkNewPassword(r, f, "new_password", u.ID, u.Email, in.NewPassword); err != nil {
		return err
	}
	if err := f.err(); err != nil {
		return err
	}
	if err := h.verifyOwnPassword(r, u, "current_password", in.CurrentPassword); err != nil {
		return err
	}
	if err := h.checkBreached(r, "new_password", in.NewPassword); err != nil {
		return err
	}
	hash, err := h.deps.Hasher.Hash(r.Context(), in.NewPassword)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.PasswordHash != old {
			return problem(http.StatusConflict, handlers.CodeConflict, "password.changed_meanwhile")
		}
		x.PasswordHash = hash
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return err
	}
	h.emit(r, Event{Kind: handlers.EventPasswordChanged, UserID: u.ID})
	h.notify(r, u, authmail.KindPasswordChanged, authmail.Data{})
	if !h.deps.Sessions.LogoutOnPasswordChange {
		tokens, err := h.restartSession(w, r, u, session.ReasonAccount)
		if err != nil {
			return err
		}
		return h.writeMessageTokens(w, r, http.StatusOK, "password.changed", tokens)
	}
	h.endSessions(r, u.ID, "", session.ReasonAccount)
	h.clearCookies(w, r)
	return h.writeMessage(w, r, "password.changed_log_in")
}

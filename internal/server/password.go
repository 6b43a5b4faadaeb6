package server

import (
	"errors"
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

func (h *Handlers) checkNewPassword(f fields, field, pw, email string) {
	if !f.required(field, pw) {
		return
	}
	for _, code := range password.Validate(pw, email) {
		f.add(field, code)
	}
}

func (h *Handlers) sendReset(r *http.Request, u store.User) {
	token := h.deps.Tokens.SignOneTime(purposeReset, u.ID, resetState(u), h.deps.Links.PasswordResetTTL)
	link := h.link(h.deps.Links.PasswordResetPath, url.Values{"uid": {u.ID}, "token": {token}})
	h.sendMail(r, authmail.KindPasswordReset, u.Email, u.ID, authmail.Data{Email: u.Email, Link: link, ExpiresIn: humanDuration(h.deps.Links.PasswordResetTTL)})
}

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
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	h.afterAnswer(r, func(r *http.Request) {
		if err == nil && u.IsActive {
			h.emit(r, Event{Kind: handlers.EventPasswordResetRequest, UserID: u.ID})
			h.sendReset(r, u)
		}
	})
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
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
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
	h.endSessions(r, u.ID, "", session.ReasonAccount)
	h.clearCookies(w, r)
	h.emit(r, Event{Kind: handlers.EventPasswordReset, UserID: u.ID})
	h.notify(r, u, authmail.KindPasswordResetDone, authmail.Data{})
	return writeMessage(w, "Your password has been reset; log in with the new one.")
}

type changePassword struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

var errWrongPassword = &Problem{Status: http.StatusBadRequest, Code: handlers.CodeInvalidPassword, Title: http.StatusText(http.StatusBadRequest),
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
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.PasswordHash != old {
			return problem(http.StatusConflict, handlers.CodeConflict, "The password was changed by another request; try again.")
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
		return writeJSON(w, http.StatusOK, messageTokens{Message: "Your password has been changed.", Tokens: tokens})
	}
	h.endSessions(r, u.ID, "", session.ReasonAccount)
	h.clearCookies(w, r)
	return writeMessage(w, "Your password has been changed; log in again.")
}

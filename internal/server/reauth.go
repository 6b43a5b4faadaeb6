package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/store"
)

type reauthRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
	// RefreshToken is the session's refresh token in token mode (the
	// refresh cookie otherwise), rotated with the renewal.
	RefreshToken string `json:"refresh_token"`
}

// reauthenticate serves POST /reauthenticate/: the user of the session
// shows the password again, and a TOTP or backup code when 2FA is on; the
// session's tokens are renewed with the time, which makes it fresh for
// Sessions.ReauthWindow (see fresh). The password counts against the login
// budgets and the code against the 2FA budgets, as at login. An account
// whose second factor is a passkey (it has one, and no TOTP) confirms with
// the passkey instead (POST /passkeys/reauthenticate/...): the password
// alone is one factor, and would make a session fresh with less than its
// login showed.
func (h *Handlers) reauthenticate(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in reauthRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("password", in.Password)
	if u.TOTPEnabled {
		f.required("code", in.Code)
	}
	tokenModeOnly(r, f, "refresh_token", in.RefreshToken)
	if err := f.err(); err != nil {
		return err
	}
	if !u.TOTPEnabled {
		if has, err := h.hasPasskeys(r.Context(), u.ID); err != nil {
			return err
		} else if has {
			return errPasskeyRequired
		}
	}
	if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
		if p := (*Problem)(nil); errors.As(err, &p) && p.Code == handlers.CodeInvalidPassword {
			h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Reason: "reauthenticate_wrong_password"})
		}
		return err
	}
	if u.TOTPEnabled {
		if err := h.twoFactorAttempt(r, u); err != nil {
			return err
		}
		var method string
		updated, err := h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
			if x.TokenVersion != u.TokenVersion || !x.TOTPEnabled {
				return errSessionEnded
			}
			m, err := h.consumeCode(x, strings.TrimSpace(in.Code))
			method = m
			return err
		})
		if err != nil {
			return h.codeFailed(r, u.ID, "reauthenticate", err)
		}
		u = updated
		if method == methodBackupCode {
			h.emit(r, Event{Kind: handlers.EventBackupCodeUsed, UserID: u.ID})
		}
	}
	return h.finishReauth(w, r, u, "", in.RefreshToken)
}

// finishReauth renews the tokens of the session of r, whose user u has
// just confirmed it (method names how, in the event: "" for the password,
// "passkey"), with the time of the confirmation, and answers. bodyRefresh
// is the refresh token a token-mode request sent in its body.
func (h *Handlers) finishReauth(w http.ResponseWriter, r *http.Request, u store.User, method, bodyRefresh string) error {
	is, err := h.sess.Reauthenticated(r.Context(), u, claimsFromContext(r.Context()), h.refreshToken(r, bodyRefresh), h.client(r))
	if err != nil {
		return sessionProblem(err)
	}
	tokens := h.setTokens(w, r, is)
	h.emit(r, Event{Kind: handlers.EventReauthenticated, UserID: u.ID, Reason: method})
	return h.writeMessageTokens(w, r, http.StatusOK, "reauth.confirmed", tokens)
}

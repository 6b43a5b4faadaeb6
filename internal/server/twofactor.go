package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/totp"
)

// maxCodeInput bounds the code looked at; longer inputs are refused
// before any work.
const maxCodeInput = 64

func (h *Handlers) twoFactorRoutes(m *http.ServeMux) {
	h.handle(m, "/2fa/setup/", methods{http.MethodPost: h.fresh(h.setup2FA)})
	h.handle(m, "/2fa/enable/", methods{http.MethodPost: h.fresh(h.enable2FA)})
	h.handle(m, "/2fa/disable/", methods{http.MethodPost: h.fresh(h.disable2FA)})
	h.handle(m, "/2fa/backup-codes/", methods{
		http.MethodGet:  h.fresh(h.listBackupCodes),
		http.MethodPost: h.fresh(h.regenerateBackupCodes),
	})
}

var (
	errSessionExpired = problem(http.StatusUnauthorized, handlers.CodeSessionExpired, "two_factor.expired")
	errSessionBusy    = problem(http.StatusConflict, handlers.CodeConflict, "two_factor.busy")
	errInvalidCode    = problem(http.StatusBadRequest, handlers.CodeInvalidCode, "two_factor.bad_code")
	errCodeRequired   = fieldProblem(fields{"code": {fieldError(fieldRequired)}})
	// errStaleSession is returned inside UpdateUser when the account no
	// longer matches the pending session.
	errStaleSession = errors.New("stale pending session")
)

type verifyLoginRequest struct {
	SessionToken string `json:"session_token"`
	Code         string `json:"code"`
	// RememberDevice trusts the browser (TwoFactor.TrustedDeviceTTL), or in
	// token mode the client, which gets a token to log in with.
	RememberDevice bool `json:"remember_device"`
}

// verifyLogin completes a login that requires 2FA with a TOTP or a backup
// code. The pending login is claimed for one code check at a time (see
// session.Manager.ClaimPending); the code is spent with the user's atomic
// UpdateUser and the login then used up: it works once.
func (h *Handlers) verifyLogin(w http.ResponseWriter, r *http.Request) error {
	var in verifyLoginRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("session_token", in.SessionToken)
	if err := f.err(); err != nil {
		return err
	}
	// The IP budget comes before any store work, so a flood of made-up
	// tokens costs nothing but the counter; the account, known only from
	// the pending login, is counted after the lookup, whatever login the
	// code comes with.
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
	if strings.TrimSpace(in.Code) == "" {
		return h.pendingFailure(r, p, errCodeRequired)
	}

	var method string
	var first bool // the account had never signed in
	u, err := h.sess.UpdateUser(ctx, p.UserID, func(x *store.User) error {
		if x.TokenVersion != p.TokenVersion || !x.IsActive {
			return errStaleSession
		}
		if !x.TOTPEnabled {
			// A login whose second factor is a passkey: a code is a
			// wrong answer (an attempt), not the end of the login.
			return errInvalidCode
		}
		m, err := h.consumeCode(x, in.Code)
		method = m
		if err == nil {
			// Recorded with the code's use: one write, so a lost commit
			// leaves neither half.
			first = x.LastLogin.IsZero()
			x.LastLogin = h.now()
		}
		return err
	})
	switch {
	case errors.Is(err, errInvalidCode):
		return h.pendingFailure(r, p, err)
	case errors.Is(err, errStaleSession), errors.Is(err, store.ErrNotFound):
		// The password changed, every session was revoked, the account
		// was deactivated or lost its 2FA since the password step.
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
	if method == methodBackupCode {
		h.emit(r, Event{Kind: handlers.EventBackupCodeUsed, UserID: u.ID, Email: u.Email})
	}
	h.emit(r, Event{Kind: handlers.EventTwoFactorUsed, UserID: u.ID, Email: u.Email, Reason: method})
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
	return h.finishLogin(w, r, u, "2fa_"+method, first, time.Time{}, device)
}

// pendingFailure counts a wrong or malformed code against the pending
// login p, which dies at the session.MaxCodeAttempts-th, and returns perr.
func (h *Handlers) pendingFailure(r *http.Request, p *session.Pending, perr error) error {
	h.emit(r, Event{Kind: handlers.EventTwoFactorFailed, UserID: p.UserID, Reason: "login"})
	destroyed, err := p.Fail(r.Context())
	if err != nil {
		return err
	}
	if destroyed {
		h.emit(r, Event{Kind: handlers.EventTwoFactorFailed, UserID: p.UserID, Reason: "login_session_destroyed"})
	}
	return perr
}

// Methods of a second factor, in events.
const (
	methodTOTP       = "totp"
	methodBackupCode = "backup_code"
)

// consumeCode checks code against x's confirmed TOTP secret (refusing
// replayed steps) or its unused backup codes, and records the use on x: the
// new last step, or the backup code's UsedAt. It runs inside UpdateUser, so
// the check and the record are one atomic step. A malformed, wrong or
// replayed code gives errInvalidCode; anything else is an internal error.
func (h *Handlers) consumeCode(x *store.User, code string) (string, error) {
	if len(code) > maxCodeInput {
		return "", errInvalidCode
	}
	if len(strings.TrimSpace(code)) == totp.Digits {
		if err := h.verifyTOTP(x, &x.TOTPSecret, code); err != nil {
			return "", err
		}
		return methodTOTP, nil
	}
	norm, ok := totp.NormalizeBackupCode(code)
	if !ok {
		return "", errInvalidCode
	}
	key, err := h.backupKey(x.ID, x.TOTPSecret)
	if err != nil {
		return "", err
	}
	for i := range x.BackupCodes {
		bc := &x.BackupCodes[i]
		if bc.UsedAt.IsZero() && totp.MatchBackupCode(key, norm, bc.Hash) {
			bc.UsedAt = h.now().UTC()
			_, _ = h.reseal(&x.TOTPSecret) // best effort: RotateTOTPSecrets finishes
			return methodBackupCode, nil
		}
	}
	return "", errInvalidCode
}

// verifyTOTP checks a TOTP code against the encrypted secret *enc, a field
// of x, and, when it is accepted, records its step as x's last, so that no
// code of that step or an earlier one is ever accepted again. A secret
// sealed under an older key is sealed again under the current one in the
// same write, so that used accounts move off old keys by themselves.
func (h *Handlers) verifyTOTP(x *store.User, enc *string, code string) error {
	if len(code) > maxCodeInput {
		return errInvalidCode
	}
	secret, err := h.deps.TOTPCipher.Decrypt(*enc)
	if err != nil {
		return err
	}
	step, err := totp.Verify(secret, code, h.now(), x.TOTPLastStep)
	switch {
	case errors.Is(err, totp.ErrMalformed), errors.Is(err, totp.ErrInvalid), errors.Is(err, totp.ErrReplayed):
		return errInvalidCode
	case err != nil:
		return err
	}
	x.TOTPLastStep = step
	_, _ = h.reseal(enc) // best effort: RotateTOTPSecrets finishes
	return nil
}

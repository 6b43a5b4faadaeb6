package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authsys-go/authsys/internal/session"
	authmail "github.com/authsys-go/authsys/mail"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

type setupResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
	QRCode     string `json:"qr_code"`
}

// The 2FA state conflicts: each is 409, as the request may succeed once the
// account's 2FA state changes.
var (
	errAlreadyEnabled = problem(http.StatusConflict, handlers.CodeTwoFactorAlreadyEnabled, "two_factor.already_enabled")
	errNotEnabled     = problem(http.StatusConflict, handlers.CodeTwoFactorNotEnabled, "two_factor.not_enabled")
	errNotSetUp       = problem(http.StatusConflict, handlers.CodeTwoFactorNotSetUp, "two_factor.not_set_up")
	errCodesChanged   = problem(http.StatusConflict, handlers.CodeConflict, "two_factor.codes_changed")
	// errSessionEnded refuses a change whose checks (the password, the
	// session) were made against an account that has changed since: a
	// password change, reset or revocation committed in between.
	errSessionEnded = problem(http.StatusUnauthorized, handlers.CodeInvalidToken, "auth.session_ended")
)

// setup2FA creates a new unconfirmed secret, replacing any earlier one. The
// secret is shown here once; after enable it is never shown again.
func (h *Handlers) setup2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if u.TOTPEnabled {
		return errAlreadyEnabled
	}
	secret, err := totp.GenerateSecret(h.deps.TwoFactor.Rand)
	if err != nil {
		return err
	}
	enc, err := h.deps.TOTPCipher.Encrypt(secret)
	if err != nil {
		return err
	}
	u, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TOTPEnabled {
			return errAlreadyEnabled
		}
		x.TOTPPendingSecret = enc
		return nil
	})
	if err != nil {
		return err
	}
	uri := totp.URI(h.deps.TwoFactor.Issuer, u.Email, secret)
	qr, err := totp.QRDataURL(uri)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, setupResponse{Secret: secret, OTPAuthURL: uri, QRCode: qr})
}

type codeRequest struct {
	Code string `json:"code"`
}

type backupCodesResponse struct {
	BackupCodes []string `json:"backup_codes"`
	// Tokens are the new session's tokens after enabling 2FA, in token
	// mode only.
	Tokens *tokensJSON `json:"tokens,omitempty"`
}

// storedBackupCodes returns the stored form of the plaintext codes plain
// for the account userID whose encrypted TOTP secret is enc: an ID each
// and a hash keyed by the secret (see backupKey).
func (h *Handlers) storedBackupCodes(userID, enc string, plain []string) ([]store.BackupCode, error) {
	key, err := h.backupKey(userID, enc)
	if err != nil {
		return nil, err
	}
	stored := make([]store.BackupCode, len(plain))
	for i, c := range plain {
		norm, _ := totp.NormalizeBackupCode(c)
		stored[i] = store.BackupCode{ID: tokens.NewID()[:8], Hash: totp.HashBackupCode(key, norm)}
	}
	return stored, nil
}

// backupKey returns the key of the backup-code hashes of the account
// userID, derived from its TOTP secret (encrypted as enc), which no server
// key rotation changes.
func (h *Handlers) backupKey(userID, enc string) ([]byte, error) {
	secret, err := h.deps.TOTPCipher.Decrypt(enc)
	if err != nil {
		return nil, err
	}
	return totp.BackupCodeKey(secret, userID)
}

// twoFactorAttempt counts a code attempt of an authenticated user against
// the account's 2FA budget, shared with /2fa/verify-login/.
func (h *Handlers) twoFactorAttempt(r *http.Request, u store.User) error {
	if err := h.limit(r, limitTwoFactor, h.deps.Limits.TwoFactor, ""); err != nil {
		return err
	}
	return h.limitTwoFactorAccount(r, u.ID)
}

// codeFailed emits the failure event of an invalid code and returns err.
func (h *Handlers) codeFailed(r *http.Request, userID, reason string, err error) error {
	if errors.Is(err, errInvalidCode) {
		h.emit(r, Event{Kind: handlers.EventTwoFactorFailed, UserID: userID, Reason: reason})
	}
	return err
}

// enable2FA confirms the pending secret with a code of it and returns the
// backup codes, shown this once.
func (h *Handlers) enable2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in codeRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	f := fields{}
	f.required("code", in.Code)
	if err := f.err(); err != nil {
		return err
	}
	if u.TOTPEnabled {
		return errAlreadyEnabled
	}
	if u.TOTPPendingSecret == "" {
		return errNotSetUp
	}
	plain, err := totp.GenerateBackupCodes(h.deps.TwoFactor.Rand, h.deps.TwoFactor.BackupCodes)
	if err != nil {
		return err
	}
	enabled, err := h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TOTPEnabled {
			return errAlreadyEnabled
		}
		if x.TOTPPendingSecret == "" {
			return errNotSetUp
		}
		if err := h.verifyTOTP(x, &x.TOTPPendingSecret, in.Code); err != nil {
			return err
		}
		stored, err := h.storedBackupCodes(x.ID, x.TOTPPendingSecret, plain)
		if err != nil {
			return err
		}
		x.TOTPSecret, x.TOTPPendingSecret = x.TOTPPendingSecret, ""
		x.TOTPEnabled = true
		x.BackupCodes = stored
		// Every session and pending login ends with the change, in the
		// same write: none that began with the password alone outlives
		// it. The client that enabled it goes on in a new session.
		x.TokenVersion++
		return nil
	})
	if err != nil {
		return h.codeFailed(r, u.ID, "enable", err)
	}
	tokens, err := h.restartSession(w, r, enabled, session.ReasonTwoFactor)
	if err != nil {
		return err
	}
	h.emit(r, Event{Kind: handlers.EventTwoFactorEnabled, UserID: u.ID})
	h.notify(r, enabled, authmail.KindTwoFactorEnabled, authmail.Data{})
	return writeJSON(w, http.StatusOK, backupCodesResponse{BackupCodes: plain, Tokens: tokens})
}

type disableRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// disable2FA turns 2FA off after the password and a TOTP or backup code,
// and erases the secret and every backup code.
func (h *Handlers) disable2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in disableRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	f := fields{}
	f.required("password", in.Password)
	f.required("code", in.Code)
	if err := f.err(); err != nil {
		return err
	}
	if !u.TOTPEnabled {
		return errNotEnabled
	}
	if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
		return err
	}
	disabled, err := h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TokenVersion != u.TokenVersion {
			return errSessionEnded
		}
		if !x.TOTPEnabled {
			return errNotEnabled
		}
		if _, err := h.consumeCode(x, in.Code); err != nil {
			return err
		}
		clearTwoFactor(x)
		x.TokenVersion++ // every other session ends with it (see enable2FA)
		return nil
	})
	if err != nil {
		return h.codeFailed(r, u.ID, "disable", err)
	}
	tokens, err := h.restartSession(w, r, disabled, session.ReasonTwoFactor)
	if err != nil {
		return err
	}
	h.emit(r, Event{Kind: handlers.EventTwoFactorDisabled, UserID: u.ID})
	h.notify(r, disabled, authmail.KindTwoFactorDisabled, authmail.Data{})
	return h.writeMessageTokens(w, r, http.StatusOK, "two_factor.disabled", tokens)
}

// clearTwoFactor erases every trace of 2FA from x but the replay guard
// (TOTPLastStep), so that no code of an already used step is accepted even
// by a secret set up later.
func clearTwoFactor(x *store.User) {
	x.TOTPEnabled = false
	x.TOTPSecret = ""
	x.TOTPPendingSecret = ""
	x.BackupCodes = nil
}

type backupCodeInfo struct {
	ID     string     `json:"id"`
	Used   bool       `json:"used"`
	UsedAt *time.Time `json:"used_at"`
}

type backupCodeList struct {
	Remaining int              `json:"remaining"`
	Codes     []backupCodeInfo `json:"codes"`
}

// listBackupCodes shows which backup codes are used, never the codes.
func (h *Handlers) listBackupCodes(w http.ResponseWriter, r *http.Request, u store.User) error {
	if !u.TOTPEnabled {
		return errNotEnabled
	}
	out := backupCodeList{Codes: make([]backupCodeInfo, 0, len(u.BackupCodes))}
	for _, bc := range u.BackupCodes {
		info := backupCodeInfo{ID: bc.ID}
		if !bc.UsedAt.IsZero() {
			t := bc.UsedAt.UTC()
			info.Used, info.UsedAt = true, &t
		} else {
			out.Remaining++
		}
		out.Codes = append(out.Codes, info)
	}
	return writeJSON(w, http.StatusOK, out)
}

type regenerateRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

// regenerateBackupCodes replaces every backup code, after the password or a
// current TOTP code (both are checked when both are given). Of concurrent
// regenerations one wins; the others get 409, so that no client is shown
// codes that were overwritten at once.
func (h *Handlers) regenerateBackupCodes(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in regenerateRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	hasCode := strings.TrimSpace(in.Code) != ""
	if !hasCode && in.Password == "" {
		f := fields{}
		f.add("code", fieldCodeOrPass)
		f.add("password", fieldCodeOrPass)
		return fieldProblem(f)
	}
	if !u.TOTPEnabled {
		return errNotEnabled
	}
	if in.Password != "" {
		if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
			return err
		}
	}
	plain, err := totp.GenerateBackupCodes(h.deps.TwoFactor.Rand, h.deps.TwoFactor.BackupCodes)
	if err != nil {
		return err
	}
	seen := u.BackupCodes
	_, err = h.sess.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TokenVersion != u.TokenVersion {
			return errSessionEnded
		}
		if !x.TOTPEnabled {
			return errNotEnabled
		}
		if !sameCodeSet(x.BackupCodes, seen) {
			return errCodesChanged
		}
		if hasCode {
			if err := h.verifyTOTP(x, &x.TOTPSecret, in.Code); err != nil {
				return err
			}
		}
		stored, err := h.storedBackupCodes(x.ID, x.TOTPSecret, plain)
		if err != nil {
			return err
		}
		x.BackupCodes = stored
		return nil
	})
	if err != nil {
		return h.codeFailed(r, u.ID, "regenerate", err)
	}
	h.emit(r, Event{Kind: handlers.EventBackupCodesRenewed, UserID: u.ID})
	h.notify(r, u, authmail.KindBackupCodesRenewed, authmail.Data{})
	return writeJSON(w, http.StatusOK, backupCodesResponse{BackupCodes: plain})
}

// sameCodeSet reports whether a and b are the same generation of backup
// codes (using one of them does not change the generation).
func sameCodeSet(a, b []store.BackupCode) bool {
	return slices.EqualFunc(a, b, func(x, y store.BackupCode) bool { return x.ID == y.ID && x.Hash == y.Hash })
}

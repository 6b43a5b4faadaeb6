package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

type setupResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
	QRCode     string `json:"qr_code"`
}

var errAlreadyEnabled = problem(http.StatusConflict, CodeTwoFactorAlreadyEnabled, "Two-factor authentication is already enabled.")
var errNotEnabled = problem(http.StatusBadRequest, CodeTwoFactorNotEnabled, "Two-factor authentication is not enabled.")

// setup2FA creates a new unconfirmed secret, replacing any earlier one. The
// secret is shown here once; after enable it is never shown again.
func (h *Handlers) setup2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if u.TOTPEnabled {
		return errAlreadyEnabled
	}
	secret, err := totp.GenerateSecret(h.deps.Rand)
	if err != nil {
		return err
	}
	enc, err := h.deps.TOTPCipher.Encrypt(secret)
	if err != nil {
		return err
	}
	if _, err := h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TOTPEnabled {
			return errAlreadyEnabled
		}
		x.TOTPPendingSecret = enc
		return nil
	}); err != nil {
		return err
	}
	uri := totp.URI(h.deps.TOTPIssuer, u.Email, secret)
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
}

// newBackupCodes returns fresh plaintext codes and their stored form.
func (h *Handlers) newBackupCodes() ([]string, []store.BackupCode, error) {
	plain, err := totp.GenerateBackupCodes(h.deps.Rand, h.deps.BackupCodesCount)
	if err != nil {
		return nil, nil, err
	}
	stored := make([]store.BackupCode, len(plain))
	for i, c := range plain {
		norm, _ := totp.NormalizeBackupCode(c)
		stored[i] = store.BackupCode{ID: tokens.NewID()[:8], Hash: totp.HashBackupCode(h.deps.BackupCodeKey, norm)}
	}
	return plain, stored, nil
}

// twoFactorAttempt counts a code attempt of an authenticated user against
// the account's 2FA budget.
func (h *Handlers) twoFactorAttempt(r *http.Request, u store.User) error {
	return h.limit(r, "2fa", h.deps.Limits.TwoFactor, u.ID)
}

func (h *Handlers) enable2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in codeRequest
	if err := decode(w, r, &in); err != nil {
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
		return problem(http.StatusBadRequest, CodeTwoFactorNotSetUp, "Call setup first.")
	}
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	plain, stored, err := h.newBackupCodes()
	if err != nil {
		return err
	}
	u, err = h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if x.TOTPEnabled {
			return errAlreadyEnabled
		}
		if x.TOTPPendingSecret == "" {
			return problem(http.StatusBadRequest, CodeTwoFactorNotSetUp, "Call setup first.")
		}
		secret, err := h.deps.TOTPCipher.Decrypt(x.TOTPPendingSecret)
		if err != nil {
			return err
		}
		step, err := totp.Verify(secret, strings.TrimSpace(in.Code), h.now(), x.TOTPLastStep)
		if err != nil {
			return errInvalidCode
		}
		x.TOTPSecret, x.TOTPPendingSecret = x.TOTPPendingSecret, ""
		x.TOTPEnabled = true
		x.TOTPLastStep = step
		x.BackupCodes = stored
		return nil
	})
	if err != nil {
		if errors.Is(err, errInvalidCode) {
			h.emit(r, Event{Kind: EventTwoFactorFailed, UserID: u.ID, Reason: "enable"})
		}
		return err
	}
	h.emit(r, Event{Kind: EventTwoFactorEnabled, UserID: u.ID})
	return writeJSON(w, http.StatusOK, backupCodesResponse{plain})
}

type disableRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (h *Handlers) disable2FA(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in disableRequest
	if err := decode(w, r, &in); err != nil {
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
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
		return err
	}
	_, err := h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if !x.TOTPEnabled {
			return errNotEnabled
		}
		if _, err := h.consumeCode(x, in.Code); err != nil {
			return err
		}
		clearTwoFactor(x)
		return nil
	})
	if err != nil {
		if errors.Is(err, errInvalidCode) {
			h.emit(r, Event{Kind: EventTwoFactorFailed, UserID: u.ID, Reason: "disable"})
		}
		return err
	}
	h.emit(r, Event{Kind: EventTwoFactorDisabled, UserID: u.ID})
	return writeMessage(w, "Two-factor authentication is disabled.")
}

// clearTwoFactor erases every trace of 2FA from x but the replay guard.
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
// current TOTP code.
func (h *Handlers) regenerateBackupCodes(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in regenerateRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Code) == "" && in.Password == "" {
		return fieldProblem(fields{"code": {"Give a current code or your password."}, "password": {"Give a current code or your password."}})
	}
	if !u.TOTPEnabled {
		return errNotEnabled
	}
	if err := h.twoFactorAttempt(r, u); err != nil {
		return err
	}
	if in.Password != "" {
		if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
			return err
		}
	}
	plain, stored, err := h.newBackupCodes()
	if err != nil {
		return err
	}
	_, err = h.deps.Users.UpdateUser(r.Context(), u.ID, func(x *store.User) error {
		if !x.TOTPEnabled {
			return errNotEnabled
		}
		if in.Password == "" {
			secret, err := h.deps.TOTPCipher.Decrypt(x.TOTPSecret)
			if err != nil {
				return err
			}
			step, err := totp.Verify(secret, strings.TrimSpace(in.Code), h.now(), x.TOTPLastStep)
			if err != nil {
				return errInvalidCode
			}
			x.TOTPLastStep = step
		}
		x.BackupCodes = stored
		return nil
	})
	if err != nil {
		if errors.Is(err, errInvalidCode) {
			h.emit(r, Event{Kind: EventTwoFactorFailed, UserID: u.ID, Reason: "regenerate"})
		}
		return err
	}
	h.emit(r, Event{Kind: EventBackupCodesRenewed, UserID: u.ID})
	return writeJSON(w, http.StatusOK, backupCodesResponse{plain})
}

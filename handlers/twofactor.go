package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

// MaxPendingSessions is how many 2FA pending sessions a user may have open;
// opening one more makes the oldest unusable.
const MaxPendingSessions = 5

// MaxCodeAttempts is how many wrong codes a pending session survives.
const MaxCodeAttempts = 5

func (h *Handlers) twoFactorRoutes(m *http.ServeMux) {
	h.handle(m, "/2fa/setup/", methods{http.MethodPost: h.authed(h.setup2FA)})
	h.handle(m, "/2fa/enable/", methods{http.MethodPost: h.authed(h.enable2FA)})
	h.handle(m, "/2fa/disable/", methods{http.MethodPost: h.authed(h.disable2FA)})
	h.handle(m, "/2fa/backup-codes/", methods{
		http.MethodGet:  h.authed(h.listBackupCodes),
		http.MethodPost: h.authed(h.regenerateBackupCodes),
	})
}

// pendingSession is what the PendingStore keeps for a login waiting for its
// second factor, under a key derived from the hash of its random token.
type pendingSession struct {
	UserID       string `json:"uid"`
	TokenVersion int64  `json:"tv"`
}

func (h *Handlers) sessionKey(token string) string {
	return h.deps.PendingSessionPrefix + hashToken(token)
}

func (h *Handlers) sessionSeqKey(userID string) string {
	return h.deps.PendingSessionPrefix + "seq:" + userID
}

// startPendingSession opens a pending 2FA session for u and returns its
// opaque token (128 random bits; never a JWT). Sessions of a user are
// numbered by an atomic counter; opening number n destroys number
// n-MaxPendingSessions, so at most MaxPendingSessions live at once.
func (h *Handlers) startPendingSession(ctx context.Context, u store.User) (string, error) {
	ttl := h.deps.PendingSessionTTL
	// The counter outlives every session it numbers, so numbers are unique
	// among live sessions.
	seq, _, err := h.deps.Pending.IncrPending(ctx, h.sessionSeqKey(u.ID), 24*time.Hour)
	if err != nil {
		return "", err
	}
	token := tokens.NewID()
	key := h.sessionKey(token)
	rec, _ := json.Marshal(pendingSession{UserID: u.ID, TokenVersion: u.TokenVersion})
	if err := h.deps.Pending.PutPending(ctx, key, rec, ttl); err != nil {
		return "", err
	}
	if err := h.deps.Pending.PutPending(ctx, h.sessionIndexKey(u.ID, seq), []byte(key), ttl); err != nil {
		return "", err
	}
	if seq > MaxPendingSessions {
		old, err := h.deps.Pending.TakePending(ctx, h.sessionIndexKey(u.ID, seq-MaxPendingSessions))
		switch {
		case err == nil:
			if err := h.deps.Pending.DeletePending(ctx, string(old)); err != nil {
				return "", err
			}
		case !errors.Is(err, store.ErrNotFound):
			return "", err
		}
	}
	return token, nil
}

func (h *Handlers) sessionIndexKey(userID string, seq int64) string {
	return h.deps.PendingSessionPrefix + "idx:" + userID + ":" + itoa(seq)
}

var (
	errSessionExpired = problem(http.StatusUnauthorized, CodeSessionExpired, "The login session has expired; log in again.")
	errInvalidCode    = problem(http.StatusBadRequest, CodeInvalidCode, "The code is invalid.")
)

// loadPendingSession returns the live session of token, or errSessionExpired.
func (h *Handlers) loadPendingSession(ctx context.Context, token string) (pendingSession, error) {
	var s pendingSession
	raw, err := h.deps.Pending.GetPending(ctx, h.sessionKey(token))
	if errors.Is(err, store.ErrNotFound) {
		return s, errSessionExpired
	}
	if err != nil {
		return s, err
	}
	if json.Unmarshal(raw, &s) != nil {
		return s, errSessionExpired
	}
	return s, nil
}

type verifyLoginRequest struct {
	SessionToken string `json:"session_token"`
	Code         string `json:"code"`
}

func (h *Handlers) verifyLogin(w http.ResponseWriter, r *http.Request) error {
	var in verifyLoginRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("session_token", in.SessionToken)
	f.required("code", in.Code)
	if err := f.err(); err != nil {
		return err
	}
	ctx := r.Context()
	if len(in.SessionToken) > 64 {
		return errSessionExpired
	}
	s, err := h.loadPendingSession(ctx, in.SessionToken)
	if err != nil {
		return err
	}
	if err := h.limit(r, "2fa", h.deps.Limits.TwoFactor, s.UserID); err != nil {
		return err
	}
	u, err := h.deps.Users.UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errSessionExpired
	}
	if err != nil {
		return err
	}
	if u.TokenVersion != s.TokenVersion || !u.IsActive || !u.TOTPEnabled {
		_ = h.deps.Pending.DeletePending(ctx, h.sessionKey(in.SessionToken))
		return errSessionExpired
	}
	var method string
	u, err = h.deps.Users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		if x.TokenVersion != s.TokenVersion || !x.TOTPEnabled {
			return errSessionExpired
		}
		m, err := h.consumeCode(x, in.Code)
		method = m
		return err
	})
	if errors.Is(err, errInvalidCode) {
		h.emit(r, Event{Kind: EventTwoFactorFailed, UserID: s.UserID, Reason: "login"})
		n, _, ierr := h.deps.Pending.IncrPending(ctx, h.sessionKey(in.SessionToken)+":fails", h.deps.PendingSessionTTL)
		if ierr != nil {
			return ierr
		}
		if n >= MaxCodeAttempts {
			_ = h.deps.Pending.DeletePending(ctx, h.sessionKey(in.SessionToken))
		}
		return err
	}
	if err != nil {
		return err
	}
	// Exactly one request wins the session, whatever codes raced.
	if _, err := h.deps.Pending.TakePending(ctx, h.sessionKey(in.SessionToken)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSessionExpired
		}
		return err
	}
	if method == "backup_code" {
		h.emit(r, Event{Kind: EventBackupCodeUsed, UserID: u.ID})
	}
	h.emit(r, Event{Kind: EventTwoFactorUsed, UserID: u.ID, Reason: method})
	return h.completeLogin(w, r, u, "2fa_"+method)
}

// consumeCode checks code against x's TOTP secret (refusing replayed steps)
// or its unused backup codes, and records the use on x. It runs inside
// UpdateUser, so the check and the record are one atomic step.
func (h *Handlers) consumeCode(x *store.User, code string) (string, error) {
	code = strings.TrimSpace(code)
	if len(code) > 64 {
		return "", errInvalidCode
	}
	if len(code) == 6 {
		secret, err := h.deps.TOTPCipher.Decrypt(x.TOTPSecret)
		if err != nil {
			return "", err
		}
		step, err := totp.Verify(secret, code, h.now(), x.TOTPLastStep)
		if err != nil {
			return "", errInvalidCode
		}
		x.TOTPLastStep = step
		return "totp", nil
	}
	norm, ok := totp.NormalizeBackupCode(code)
	if !ok {
		return "", errInvalidCode
	}
	for i := range x.BackupCodes {
		bc := &x.BackupCodes[i]
		if bc.UsedAt.IsZero() && totp.MatchBackupCode(h.deps.BackupCodeKey, norm, bc.Hash) {
			bc.UsedAt = h.now().UTC()
			return "backup_code", nil
		}
	}
	return "", errInvalidCode
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/authsys-go/authsys/handlers"
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

// MaxCodeAttempts is how many wrong codes a pending session survives: the
// MaxCodeAttempts-th wrong code destroys it.
const MaxCodeAttempts = 5

// maxSessionToken bounds the session_token looked at; real tokens are 22
// characters.
const maxSessionToken = 64

// pendingSeqTTL is the life of a user's pending-session counter. It must
// outlive the sessions it numbers many times over; when it expires the
// numbering restarts and, for at most one PendingSessionTTL, sessions of the
// old and the new numbering may both be open.
const pendingSeqTTL = 24 * time.Hour

// evicted marks an index slot whose session was evicted before it was
// indexed. No session key equals it.
const evicted = "-"

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

// sessionKey is the PendingStore key of a pending session: the prefix and
// the SHA-256 of the token, so that a store dump reveals no usable token.
func (h *Handlers) sessionKey(token string) string {
	return h.deps.Sessions.KeyPrefix + "pending:" + hashToken(token)
}

func (h *Handlers) sessionSeqKey(userID string) string {
	return h.deps.Sessions.KeyPrefix + "pending:" + "seq:" + userID
}

func (h *Handlers) sessionIndexKey(userID string, seq int64) string {
	return h.deps.Sessions.KeyPrefix + "pending:" + "idx:" + userID + ":" + itoa(seq)
}

// startPendingSession opens a pending 2FA session for u and returns its
// opaque token (128 random bits; never a JWT). Sessions of a user are
// numbered by an atomic counter and indexed by number; opening number n
// evicts number n-MaxPendingSessions, so at most MaxPendingSessions live at
// once. Each index slot is claimed with put-if-absent by its session and
// by its evictor, whichever comes first, so a session that loses the race
// against a newer one's eviction dies instead of outliving it.
func (h *Handlers) startPendingSession(ctx context.Context, u store.User) (string, error) {
	ttl := h.deps.TwoFactor.PendingLoginTTL
	seq, _, err := h.deps.Pending.IncrPending(ctx, h.sessionSeqKey(u.ID), pendingSeqTTL)
	if err != nil {
		return "", err
	}
	token := tokens.NewID()
	key := h.sessionKey(token)
	rec, _ := json.Marshal(pendingSession{UserID: u.ID, TokenVersion: u.TokenVersion})
	if err := h.deps.Pending.PutPending(ctx, key, rec, ttl); err != nil {
		return "", err
	}
	indexed, err := h.deps.Pending.AddPendingIfAbsent(ctx, h.sessionIndexKey(u.ID, seq), []byte(key), ttl)
	if err != nil {
		return "", err
	}
	if !indexed {
		// A newer session evicted this one before it was indexed; the
		// token is dead at birth, as the oldest of more than
		// MaxPendingSessions.
		if err := h.deps.Pending.DeletePending(ctx, key); err != nil {
			return "", err
		}
	}
	if seq > MaxPendingSessions {
		if err := h.evictPendingSession(ctx, u.ID, seq-MaxPendingSessions); err != nil {
			return "", err
		}
	}
	return token, nil
}

// evictPendingSession destroys the pending session numbered seq, or marks
// its slot so that it dies as soon as it is opened.
func (h *Handlers) evictPendingSession(ctx context.Context, userID string, seq int64) error {
	slot := h.sessionIndexKey(userID, seq)
	marked, err := h.deps.Pending.AddPendingIfAbsent(ctx, slot, []byte(evicted), h.deps.TwoFactor.PendingLoginTTL)
	if err != nil || marked {
		return err
	}
	old, err := h.deps.Pending.TakePending(ctx, slot)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // expired meanwhile
	case err != nil:
		return err
	case string(old) == evicted:
		return nil
	}
	return h.deps.Pending.DeletePending(ctx, string(old))
}

var (
	errSessionExpired = problem(http.StatusUnauthorized, handlers.CodeSessionExpired, "The login session has expired; log in again.")
	errSessionBusy    = problem(http.StatusConflict, handlers.CodeConflict, "Another code for this login is being checked; try again.")
	errInvalidCode    = problem(http.StatusBadRequest, handlers.CodeInvalidCode, "The code is invalid.")
	errCodeRequired   = fieldProblem(fields{"code": {"This field is required."}})
	// errStaleSession is returned inside UpdateUser when the account no
	// longer matches the pending session.
	errStaleSession = errors.New("stale pending session")
)

type verifyLoginRequest struct {
	SessionToken string `json:"session_token"`
	Code         string `json:"code"`
}

// verifyLogin completes a login that requires 2FA with a TOTP or a backup
// code. One code at a time is checked per session (a short claim in the
// PendingStore), so concurrent submissions can neither both spend a code
// nor have the failures of the losers destroy the session under the
// winner. The code is spent with the user's atomic UpdateUser and the
// session then taken atomically: it works once.
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
	// the session, is counted after the lookup, whatever session the code
	// comes with.
	if err := h.limit(r, limitTwoFactor, h.deps.Limits.TwoFactor, ""); err != nil {
		return err
	}
	if len(in.SessionToken) > maxSessionToken {
		return errSessionExpired
	}
	ctx := r.Context()
	key := h.sessionKey(in.SessionToken)

	claim := key + ":busy"
	claimed, err := h.deps.Pending.AddPendingIfAbsent(ctx, claim, []byte{1}, h.workTimeout())
	if err != nil {
		return err
	}
	if !claimed {
		return errSessionBusy
	}
	defer func() {
		// The release outlives a cancelled request, but never a hung
		// store: it gets a deadline of its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.workTimeout())
		defer cancel()
		_ = h.deps.Pending.DeletePending(rctx, claim)
	}()

	var s pendingSession
	raw, err := h.deps.Pending.GetPending(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errSessionExpired
	case err != nil:
		return err
	case json.Unmarshal(raw, &s) != nil:
		return errSessionExpired
	}
	if err := h.limitTwoFactorAccount(r, s.UserID); err != nil {
		return err
	}
	if strings.TrimSpace(in.Code) == "" {
		return h.sessionFailure(r, key, s.UserID, errCodeRequired)
	}

	var method string
	u, err := h.deps.Users.UpdateUser(ctx, s.UserID, func(x *store.User) error {
		if x.TokenVersion != s.TokenVersion || !x.IsActive || !x.TOTPEnabled {
			return errStaleSession
		}
		m, err := h.consumeCode(x, in.Code)
		method = m
		if err == nil {
			// Recorded with the code's use: one write, so a lost commit
			// leaves neither half.
			x.LastLogin = h.now()
		}
		return err
	})
	switch {
	case errors.Is(err, errInvalidCode):
		return h.sessionFailure(r, key, s.UserID, err)
	case errors.Is(err, errStaleSession), errors.Is(err, store.ErrNotFound):
		// The password changed, every session was revoked, the account
		// was deactivated or lost its 2FA since the password step.
		if err := h.deps.Pending.DeletePending(ctx, key); err != nil {
			return err
		}
		return errSessionExpired
	case err != nil:
		return err
	}
	// The claim keeps other submissions out; only expiry or eviction by a
	// newer login can have removed the session since it was read.
	if _, err := h.deps.Pending.TakePending(ctx, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSessionExpired
		}
		return err
	}
	_ = h.deps.Pending.DeletePending(ctx, key+":fails")
	if method == methodBackupCode {
		h.emit(r, Event{Kind: handlers.EventBackupCodeUsed, UserID: u.ID})
	}
	h.emit(r, Event{Kind: handlers.EventTwoFactorUsed, UserID: u.ID, Reason: method})
	return h.finishLogin(w, r, u, "2fa_"+method)
}

// sessionFailure counts a wrong or malformed code against the pending
// session under key, destroys the session at the MaxCodeAttempts-th, and
// returns perr.
func (h *Handlers) sessionFailure(r *http.Request, key, userID string, perr error) error {
	ctx := r.Context()
	h.emit(r, Event{Kind: handlers.EventTwoFactorFailed, UserID: userID, Reason: "login"})
	n, _, err := h.deps.Pending.IncrPending(ctx, key+":fails", h.deps.TwoFactor.PendingLoginTTL)
	if err != nil {
		return err
	}
	if n >= MaxCodeAttempts {
		if err := h.deps.Pending.DeletePending(ctx, key); err != nil {
			return err
		}
		h.emit(r, Event{Kind: handlers.EventTwoFactorFailed, UserID: userID, Reason: "login_session_destroyed"})
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

// maxCodeInput bounds the code looked at; longer inputs are refused
// before any work.
const maxCodeInput = 64

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

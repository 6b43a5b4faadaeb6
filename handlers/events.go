package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Event kinds emitted as structured log records and to Deps.OnEvent.
const (
	EventSignup               = "signup"
	EventSignupExisting       = "signup_existing_email"
	EventAccountVerified      = "account_verified"
	EventLoginSucceeded       = "login_succeeded"
	EventLoginFailed          = "login_failed"
	EventLogout               = "logout"
	EventLogoutAll            = "logout_all"
	EventRefreshReuse         = "refresh_token_reuse"
	EventPasswordResetRequest = "password_reset_requested"
	EventPasswordReset        = "password_reset"
	EventPasswordChanged      = "password_changed"
	EventEmailChangeRequested = "email_change_requested"
	EventEmailChanged         = "email_changed"
	EventTwoFactorEnabled     = "two_factor_enabled"
	EventTwoFactorDisabled    = "two_factor_disabled"
	EventTwoFactorUsed        = "two_factor_used"
	EventTwoFactorFailed      = "two_factor_failed"
	EventBackupCodeUsed       = "backup_code_used"
	EventBackupCodesRenewed   = "backup_codes_regenerated"
	EventThrottled            = "throttled"
	EventMailFailed           = "mail_failed"
	EventAdminAction          = "admin_action"
	EventAdminDenied          = "admin_access_denied"
)

// EventKinds lists every event kind, for documentation and tests.
var EventKinds = []string{
	EventSignup, EventSignupExisting, EventAccountVerified, EventLoginSucceeded,
	EventLoginFailed, EventLogout, EventLogoutAll, EventRefreshReuse,
	EventPasswordResetRequest, EventPasswordReset, EventPasswordChanged,
	EventEmailChangeRequested, EventEmailChanged, EventTwoFactorEnabled,
	EventTwoFactorDisabled, EventTwoFactorUsed, EventTwoFactorFailed,
	EventBackupCodeUsed, EventBackupCodesRenewed, EventThrottled, EventMailFailed,
	EventAdminAction, EventAdminDenied,
}

// Event is one security-relevant happening. It never carries a secret,
// token, code or password.
type Event struct {
	// Kind is one of the Event* constants.
	Kind string
	// UserID is the account concerned; empty when unknown (e.g. a failed
	// login for an unknown email).
	UserID string
	// ActorID is the admin who acted, for admin actions.
	ActorID string
	// Reason qualifies the event (e.g. "wrong_password", "disable_2fa").
	Reason    string
	IP        string
	UserAgent string
	Time      time.Time
}

// emit logs e and passes it to the OnEvent hook.
func (h *Handlers) emit(r *http.Request, e Event) {
	e.Time = h.now()
	if r != nil {
		e.IP = h.clientIP(r)
		e.UserAgent = r.UserAgent()
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	attrs := []slog.Attr{slog.String("event", e.Kind)}
	for _, a := range [][2]string{{"user_id", e.UserID}, {"actor_id", e.ActorID}, {"reason", e.Reason}, {"ip", e.IP}} {
		if a[1] != "" {
			attrs = append(attrs, slog.String(a[0], a[1]))
		}
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "authsys: security event", attrs...)
	if h.deps.OnEvent != nil {
		h.deps.OnEvent(e)
	}
}

func (h *Handlers) clientIP(r *http.Request) string {
	if h.deps.ClientIP == nil {
		return ""
	}
	ip := h.deps.ClientIP.ClientIP(r)
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

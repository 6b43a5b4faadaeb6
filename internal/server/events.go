package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/authsys-go/authsys/handlers"
)

// EventKinds lists every event kind, for documentation and tests.
var EventKinds = []string{
	handlers.EventSignup, handlers.EventSignupExisting, handlers.EventAccountVerified, handlers.EventLoginSucceeded,
	handlers.EventLoginFailed, handlers.EventReauthenticated, handlers.EventLogout, handlers.EventLogoutAll, handlers.EventRefreshReuse, handlers.EventSessionRevoked,
	handlers.EventPasswordResetRequest, handlers.EventPasswordReset, handlers.EventPasswordChanged,
	handlers.EventEmailChangeRequested, handlers.EventEmailChanged, handlers.EventTwoFactorEnabled,
	handlers.EventTwoFactorDisabled, handlers.EventTwoFactorUsed, handlers.EventTwoFactorFailed,
	handlers.EventBackupCodeUsed, handlers.EventBackupCodesRenewed, handlers.EventThrottled, handlers.EventMailFailed,
	handlers.EventAdminAction, handlers.EventAdminDenied,
	handlers.EventPasskeyAdded, handlers.EventPasskeyRemoved, handlers.EventPasskeyUsed, handlers.EventPasskeyCloneDetected,
}

// emit logs e and passes it to the OnEvent hook. An event about the user
// the request authenticated gets that user's email unless it has one.
func (h *Handlers) emit(r *http.Request, e Event) {
	e.Time = h.now()
	if r != nil {
		e.IP = h.clientIP(r)
		e.UserAgent = r.UserAgent()
		if ai, ok := r.Context().Value(ctxKey{}).(*authInfo); ok && e.Email == "" && e.UserID != "" && ai.user.ID == e.UserID {
			e.Email = ai.user.Email
		}
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	attrs := []slog.Attr{slog.String("event", e.Kind)}
	for _, a := range [][2]string{{"user_id", e.UserID}, {"email", e.Email}, {"actor_id", e.ActorID}, {"reason", e.Reason}, {"ip", e.IP}} {
		if a[1] != "" {
			attrs = append(attrs, slog.String(a[0], a[1]))
		}
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "authsys: security event", attrs...)
	if h.deps.Hooks.OnEvent != nil {
		h.deps.Hooks.OnEvent(e)
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

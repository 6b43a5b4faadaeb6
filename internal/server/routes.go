package server

import (
	"net/http"

	"github.com/authsys-go/authsys/handlers"
)

// routes registers the public API; paths answer with and without their
// trailing slash.
func (h *Handlers) routes() {
	m := h.mux
	h.handle(m, "/signup/", methods{http.MethodPost: h.signup})
	h.handleLink(m, "/verify-account/", methods{http.MethodGet: h.verifyAccount, http.MethodPost: h.verifyAccount})
	h.handle(m, "/verify-account/resend/", methods{http.MethodPost: h.resendVerification})
	h.handle(m, "/login/", methods{http.MethodPost: h.login})
	h.handle(m, "/2fa/verify-login/", methods{http.MethodPost: h.verifyLogin})
	h.handle(m, "/logout/", methods{http.MethodPost: h.logout})
	h.handle(m, "/logout-all/", methods{http.MethodPost: h.authed(h.logoutAll)})
	h.handle(m, "/refresh/", methods{http.MethodPost: h.refresh})
	h.handle(m, "/sessions/", methods{http.MethodGet: h.authed(h.listSessions)})
	h.handle(m, "/sessions/revoke-others/", methods{http.MethodPost: h.fresh(h.revokeOtherSessions)})
	h.handle(m, "/sessions/{id}/", methods{http.MethodDelete: h.authed(h.revokeSession)})
	h.handle(m, "/me/", methods{http.MethodGet: h.authed(h.me)})
	h.handle(m, "/password-reset/", methods{http.MethodPost: h.passwordReset})
	h.handle(m, "/password-reset-confirm/", methods{http.MethodPost: h.passwordResetConfirm})
	h.handle(m, "/change-password/", methods{http.MethodPost: h.authed(h.changePassword)})
	h.handle(m, "/change-email/", methods{http.MethodPost: h.fresh(h.changeEmail), http.MethodDelete: h.authed(h.cancelEmailChangeRequest)})
	h.handle(m, "/reauthenticate/", methods{http.MethodPost: h.authed(h.reauthenticate)})
	h.handleLink(m, "/change-email-confirm/", methods{http.MethodGet: h.changeEmailConfirm, http.MethodPost: h.changeEmailConfirm})
	h.twoFactorRoutes(m)
	h.passkeyRoutes(m)
	h.handle(m, "/openapi.json", methods{http.MethodGet: h.openAPI})
	h.handle(m, "/jwks.json", methods{http.MethodGet: h.jwks})
	m.HandleFunc("/", h.notFound)
}

// adminRoutes registers the admin API; every endpoint needs an admin (see
// adminOnly) and paths answer with and without their trailing slash.
func (h *Handlers) adminRoutes() {
	m := h.admin
	h.handle(m, "/users/", methods{http.MethodGet: h.adminOnly(h.listUsers)})
	h.handle(m, "/users/{id}/", methods{http.MethodGet: h.adminOnly(h.showUser)})
	h.handle(m, "/users/{id}/sessions/", methods{http.MethodGet: h.adminOnly(h.adminListSessions)})
	h.handle(m, "/users/{id}/sessions/{sid}/", methods{http.MethodDelete: h.adminFresh(h.adminRevokeSession)})
	h.adminPasskeyRoutes(m)
	for _, a := range []struct{ path, action string }{
		{"/users/{id}/disable-2fa/", handlers.AdminDisable2FA},
		{"/users/{id}/revoke-sessions/", handlers.AdminRevokeSessions},
		{"/users/{id}/activate/", handlers.AdminActivate},
		{"/users/{id}/deactivate/", handlers.AdminDeactivate},
		{"/users/{id}/resend-verification/", handlers.AdminResendVerification},
	} {
		h.handle(m, a.path, methods{http.MethodPost: h.adminAction(a.action)})
	}
	m.HandleFunc("/", h.notFound)
}

// Routes returns the routes of the public API (Handler) and of the admin API
// (AdminHandler) as they are registered, each path once in its trailing-slash
// form, for the test that the OpenAPI document covers every route.
func Routes() (api, admin []Route) {
	h := New(Deps{})
	return h.served[h.mux], h.served[h.admin]
}

package handlers

// Admin actions: the state-changing operations of the admin API and of
// authsys.Auth.AdminAction, and the Reason of their EventAdminAction events.
const (
	// AdminDisable2FA turns two-factor authentication off and erases the
	// secret and the backup codes, for a user who lost their device.
	AdminDisable2FA = "disable_2fa"
	// AdminRevokeSessions bumps the token version: every access and
	// refresh token and every pending 2FA login of the user dies.
	AdminRevokeSessions = "revoke_sessions"
	// AdminActivate makes the account active and its email verified.
	AdminActivate = "activate"
	// AdminDeactivate makes the account inactive and revokes its sessions.
	AdminDeactivate = "deactivate"
	// AdminResendVerification mails a new verification link.
	AdminResendVerification = "resend_verification"
)

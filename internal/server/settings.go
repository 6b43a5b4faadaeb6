package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/mail"
)

// The settings groups below have the fields of the root package's Config
// groups of the same names, in the same order, so the root converts each
// group as a whole (server.Cookies(cfg.Cookies)): a setting is added to its
// group here and there, and the compiler finds a mismatch. The meaning of
// every field is documented on the root's types.

// Mail is authsys.Mail.
type Mail struct {
	From        string
	AppName     string
	Templates   *mail.Templates
	Timeout     time.Duration
	SkipNotices []string
}

// Locales is authsys.Locales.
type Locales struct {
	Messages map[string]map[string]string
	Mail     map[string]*mail.Templates
	Locale   func(r *http.Request, a handlers.Account) string
}

// Links is authsys.Links.
type Links struct {
	FrontendURL                                           string
	VerifyAccountPath, PasswordResetPath, EmailChangePath string
	VerifyAccountTTL, PasswordResetTTL, EmailChangeTTL    time.Duration
}

// Sessions is authsys.Sessions.
type Sessions struct {
	AccessTTL, RefreshTTL  time.Duration
	AbsoluteTTL            time.Duration
	RefreshReuseGrace      time.Duration
	ClockSkew              time.Duration
	Issuer, Audience       string
	NativeClients          bool
	LogoutOnPasswordChange bool
	StatelessAccessTokens  bool
	KeyPrefix              string
	CacheSize              int
	CacheMaxAge            time.Duration
	ReauthWindow           time.Duration
}

// Cookies is authsys.Cookies.
type Cookies struct {
	AccessName, RefreshName string
	TrustedDeviceName       string
	RefreshPath             string
	Domain                  string
	Insecure                bool
	SameSite                http.SameSite
}

// TwoFactor is authsys.TwoFactor.
type TwoFactor struct {
	Issuer           string
	BackupCodes      int
	PendingLoginTTL  time.Duration
	Rand             io.Reader
	TrustedDeviceTTL time.Duration
}

// Passkeys is authsys.Passkeys.
type Passkeys struct {
	RPID          string
	RPDisplayName string
	RPOrigins     []string
	ChallengeTTL  time.Duration
	MaxPerUser    int
}

// HTTP is authsys.HTTP.
type HTTP struct {
	TrustedOrigins, TrustedProxies []string
	RequestTimeout                 time.Duration
}

// Hooks is authsys.Hooks.
type Hooks struct {
	IsAdmin       func(handlers.Account) bool
	OnEvent       func(Event)
	RenderProblem func(http.ResponseWriter, *http.Request, *Problem)
	BeforeSignup  func(*http.Request, handlers.Signup) error
	BeforeLogin   func(*http.Request, handlers.Account) error
}

// Profile is authsys.Profile.
type Profile struct {
	Fields []ProfileField
}

// ProfileField is authsys.ProfileField.
type ProfileField struct {
	Name     string
	Required bool
	Private  bool
	Schema   json.RawMessage
	Validate func(context.Context, any) (any, error)
}

// Limits are the rate limits in force; a zero Rate disables one.
type Limits struct {
	Login, Signup, PasswordReset, TwoFactor, TwoFactorDaily, Refresh, MailDaily ratelimit.Rate
}

package server

import (
	"context"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/store"

	authmail "github.com/authsys-go/authsys/mail"
)

// One-time token purposes.
const (
	purposeVerify = "verify_account"
	purposeReset  = "password_reset"
)

// validEmail reports whether s (already trimmed) is a plain address: at
// most 254 bytes of printable UTF-8 (no control or format characters such
// as NUL, CR LF or bidi overrides, no white space), one address without a
// display name.
func validEmail(s string) bool {
	if len(s) > 254 || !utf8.ValidString(s) || strings.ContainsAny(s, " <>") || strings.ContainsFunc(s, notPrintable) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// link builds an absolute link on the frontend: FrontendURL + path + query.
func (h *Handlers) link(path string, q url.Values) string {
	u := h.deps.FrontendURL.JoinPath(path)
	u.RawQuery = q.Encode()
	return u.String()
}

// sendMail renders and sends a message about the account u to the address
// to in the background, so a slow or failing mail server never holds the
// request; failures are logged and emitted. Shutdown waits for sends in
// flight. The message is in u's language for r (see locales.pick), with
// data.User and data.Locale filled in, and, when linkTTL is positive,
// data.ExpiresIn saying it in words.
func (h *Handlers) sendMail(r *http.Request, kind, to string, u store.User, linkTTL time.Duration, data authmail.Data) {
	if data.AppName == "" {
		data.AppName = h.deps.Mail.AppName
	}
	userID := u.ID
	pub := h.publicUser(u)
	l := h.loc.pick(r, pub)
	data.Locale = h.loc.name(l)
	data.User = authmail.User{ID: u.ID, Email: u.Email, Profile: pub.Profile}
	if linkTTL > 0 {
		data.ExpiresIn = h.loc.duration(l, linkTTL)
	}
	templates := h.loc.templates(l, kind, h.deps.Mail.Templates)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.deps.Mail.Timeout)
	// The request is over when the mail goes: its client is noted now.
	failed := Event{Kind: handlers.EventMailFailed, UserID: userID, Email: to, Reason: kind, IP: h.clientIP(r), UserAgent: r.UserAgent()}
	h.mailWG.Add(1)
	// Rendering and the daily cap happen off the request path, so that an
	// answer that sends a mail takes no longer than one that does not.
	go func() {
		defer h.mailWG.Done()
		defer cancel()
		if ok, err := h.mailAllowed(ctx, kind, to); !ok {
			capped := failed
			capped.Kind, capped.Reason = handlers.EventThrottled, limitMailDaily
			if err != nil {
				h.log.ErrorContext(ctx, "authsys: checking the daily mail cap failed; the mail is not sent", "kind", kind, "error", err)
			}
			h.emit(nil, capped)
			return
		}
		msg, err := templates.Render(kind, h.deps.Mail.From, to, data)
		if err != nil {
			h.log.ErrorContext(ctx, "authsys: rendering mail failed", "kind", kind, "error", err)
			return
		}
		if err := h.deps.Mailer.Send(ctx, msg); err != nil {
			h.log.ErrorContext(ctx, "authsys: sending mail failed", "kind", kind, "user_id", userID, "error", err)
			h.emit(nil, failed)
		}
	}()
}

// limitMailDaily names the daily cap on each kind of mail to one address
// (Config.RateLimits.MailDaily), in throttled events.
const limitMailDaily = "mail_daily"

// mailAllowed checks one mail of kind to the address to against the daily
// cap of that kind to that address. A limiter failure refuses the mail:
// the cap fails closed, and the caller logs it.
func (h *Handlers) mailAllowed(ctx context.Context, kind, to string) (bool, error) {
	rate := h.deps.Limits.MailDaily
	if rate.Zero() || h.deps.Limiter == nil {
		return true, nil
	}
	ok, _, err := h.deps.Limiter.Allow(ctx, limitMailDaily+":"+kind+":"+session.Hash(store.NormalizeEmail(to)), rate)
	if err != nil && slices.Contains(Notices, kind) {
		return true, nil // a security notice goes even when the cap cannot be checked
	}
	return ok && err == nil, err
}

// Notices are the kinds of security notice, which Mail.SkipNotices may
// turn off.
var Notices = []string{
	authmail.KindPasswordChanged, authmail.KindPasswordResetDone, authmail.KindTwoFactorEnabled,
	authmail.KindTwoFactorDisabled, authmail.KindBackupCodesRenewed, authmail.KindNewDeviceSignIn,
	authmail.KindEmailChangeRequested, authmail.KindEmailChangedNotice,
	authmail.KindPasskeyAdded, authmail.KindPasskeyRemoved,
}

// notify sends u the security notice kind about the request r, with a
// password reset link, unless Mail.SkipNotices turns it off. data's Email,
// Link, ExpiresIn, Device and IP are filled in.
func (h *Handlers) notify(r *http.Request, u store.User, kind string, data authmail.Data) {
	if slices.Contains(h.deps.Mail.SkipNotices, kind) {
		return
	}
	token := h.deps.Tokens.SignOneTime(purposeReset, u.ID, resetState(u), h.deps.Links.PasswordResetTTL)
	data.Email = u.Email
	data.Link = h.link(h.deps.Links.PasswordResetPath, url.Values{"uid": {u.ID}, "token": {token}})
	if ua := r.UserAgent(); ua != "" {
		data.Device = session.Label(ua)
	}
	data.IP = h.clientIP(r)
	h.sendMail(r, kind, u.Email, u, h.deps.Links.PasswordResetTTL, data)
}

// afterAnswer runs fn in the background, after the request's answer, with
// a copy of r whose context outlives it: the work an answer must not
// reveal (whether an account exists, and so whether a mail goes) is done
// off the request path, and afterAnswer is called for every request of
// such an endpoint alike, so that the answer takes the same time either
// way. Shutdown waits for it, as for the mails.
func (h *Handlers) afterAnswer(r *http.Request, fn func(*http.Request)) {
	r = r.Clone(context.WithoutCancel(r.Context()))
	h.mailWG.Add(1)
	go func() {
		defer h.mailWG.Done()
		fn(r)
	}()
}

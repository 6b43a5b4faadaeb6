package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync/atomic"
	texttemplate "text/template"
)

// Message kinds: the values of Message.Kind, one per template.
const (
	// KindVerifyAccount asks a new user to confirm their email address.
	KindVerifyAccount = "verify_account"
	// KindPasswordReset carries a password reset link.
	KindPasswordReset = "password_reset"
	// KindEmailChangeConfirm is sent to the new address of a pending email
	// change and carries the confirmation link.
	KindEmailChangeConfirm = "email_change_confirm"
	// KindEmailChangedNotice is sent to the old address once the email of
	// an account has changed; it shows the new address masked.
	KindEmailChangedNotice = "email_changed_notice"
	// KindEmailChangeRequested is sent to the current address when a change
	// of the account's email is requested, before it is confirmed; it shows
	// the new address masked and carries a password reset link, which
	// also cancels the change.
	KindEmailChangeRequested = "email_change_requested"
	// Security notices, sent to the account's address after the change
	// they name (each can be turned off with Config.Mail.SkipNotices); each
	// carries a password reset link for the owner who did not make it.
	KindPasswordChanged    = "password_changed"
	KindPasswordResetDone  = "password_reset_done"
	KindTwoFactorEnabled   = "two_factor_enabled"
	KindTwoFactorDisabled  = "two_factor_disabled"
	KindBackupCodesRenewed = "backup_codes_regenerated"
	KindNewDeviceSignIn    = "new_device_sign_in"
	// KindPasskeyAdded and KindPasskeyRemoved are the security notices of
	// a passkey registered on, or removed from, the account.
	KindPasskeyAdded   = "passkey_added"
	KindPasskeyRemoved = "passkey_removed"
	// KindSignupAttempt is sent instead of a second verification email when
	// someone signs up with an address that already has an account, so that
	// signup answers identically whether or not the address is known.
	KindSignupAttempt = "signup_attempt"
)

// Template is the source of one email: a text/template for the subject, a
// text/template for the plain-text body and an html/template for the HTML
// body. An empty part means the built-in default of that part. The
// templates are executed with a Data value and may call the function mask,
// which is MaskEmail.
type Template struct {
	// Subject is the subject line template; the rendered subject is
	// trimmed and must not contain a line break.
	Subject string
	// Text is the plain-text body template.
	Text string
	// HTML is the HTML body template; html/template escapes every value
	// according to its context.
	HTML string
}

// Templates render the library's emails. Each field is the Template of one
// message kind; its zero value, or any empty part of it, means the built-in
// default. The zero Templates, and a nil *Templates, render the defaults.
//
// Templates are parsed once, on the first call to Validate or Render, and
// the parsed form is cached; Validate and Render are safe for concurrent
// use. Set the fields before the first use and do not change them while
// other goroutines render.
type Templates struct {
	// VerifyAccount renders KindVerifyAccount messages.
	VerifyAccount Template
	// PasswordReset renders KindPasswordReset messages.
	PasswordReset Template
	// EmailChangeConfirm renders KindEmailChangeConfirm messages.
	EmailChangeConfirm Template
	// EmailChangedNotice renders KindEmailChangedNotice messages.
	EmailChangedNotice Template
	// SignupAttempt renders KindSignupAttempt messages.
	SignupAttempt Template
	// EmailChangeRequested renders KindEmailChangeRequested messages.
	EmailChangeRequested Template
	// PasswordChanged, PasswordResetDone, TwoFactorEnabled,
	// TwoFactorDisabled, BackupCodesRenewed and NewDeviceSignIn render the
	// security notices of the same kinds.
	PasswordChanged, PasswordResetDone, TwoFactorEnabled, TwoFactorDisabled, BackupCodesRenewed, NewDeviceSignIn Template
	// PasskeyAdded and PasskeyRemoved render the passkey notices of the
	// same kinds.
	PasskeyAdded, PasskeyRemoved Template

	// cache holds the *compiledSet parsed from the fields above.
	cache atomic.Value
}

// Data is the value the templates are executed with.
type Data struct {
	// AppName is the name of the application, as configured.
	AppName string
	// Email is the recipient's account email address.
	Email string
	// NewEmail is the new address of an email change.
	NewEmail string
	// Link is the action link of the message; when non-empty it is also
	// the only element of Message.Links.
	Link string
	// ExpiresIn says in words, in the message's language, how long the
	// link stays valid, e.g. "3 days".
	ExpiresIn string
	// Device names the device of the request a notice is about, e.g.
	// "Firefox on Linux"; empty when unknown.
	Device string
	// IP is the client address of the request a notice is about.
	IP string
	// User is the account the message is about. For
	// KindEmailChangedNotice, sent to the old address once the change is
	// done, User.Email is that old address (the recipient); the new one
	// is only in NewEmail, masked.
	User User
	// Locale is the language tag the message is in, e.g. "fr": the
	// recipient's language, as authsys.Locales chose it; "en" for
	// English.
	Locale string
}

// User is the account a message is about, as Data.User: what a template
// may address the user by.
type User struct {
	// ID is the account's ID in the user store.
	ID string
	// Email is the account's email address.
	Email string
	// Profile holds the application's own fields of the account
	// (store.User.Profile), e.g. a display name: {{.User.Profile.name}}.
	// A template must allow for a field that is missing.
	Profile map[string]any
}

// kindSpec ties a message kind to its Templates field and default.
type kindSpec struct {
	kind  string
	name  string
	field func(*Templates) Template
	def   Template
}

// kinds lists every message kind, in the order of the Templates fields.
var kinds = [...]kindSpec{
	{KindVerifyAccount, "VerifyAccount", func(t *Templates) Template { return t.VerifyAccount }, defaultVerifyAccount},
	{KindPasswordReset, "PasswordReset", func(t *Templates) Template { return t.PasswordReset }, defaultPasswordReset},
	{KindEmailChangeConfirm, "EmailChangeConfirm", func(t *Templates) Template { return t.EmailChangeConfirm }, defaultEmailChangeConfirm},
	{KindEmailChangedNotice, "EmailChangedNotice", func(t *Templates) Template { return t.EmailChangedNotice }, defaultEmailChangedNotice},
	{KindSignupAttempt, "SignupAttempt", func(t *Templates) Template { return t.SignupAttempt }, defaultSignupAttempt},
	{KindEmailChangeRequested, "EmailChangeRequested", func(t *Templates) Template { return t.EmailChangeRequested }, defaultEmailChangeRequested},
	{KindPasswordChanged, "PasswordChanged", func(t *Templates) Template { return t.PasswordChanged }, notice("Your password was changed", "The password of your{{with .AppName}} {{.}}{{end}} account was changed{{with .Device}} from {{.}}{{end}}.")},
	{KindPasswordResetDone, "PasswordResetDone", func(t *Templates) Template { return t.PasswordResetDone }, notice("Your password was reset", "The password of your{{with .AppName}} {{.}}{{end}} account was reset with a link sent to this address{{with .Device}}, from {{.}}{{end}}.")},
	{KindTwoFactorEnabled, "TwoFactorEnabled", func(t *Templates) Template { return t.TwoFactorEnabled }, notice("Two-factor authentication is on", "Two-factor authentication was turned on for your{{with .AppName}} {{.}}{{end}} account{{with .Device}} from {{.}}{{end}}. Keep your backup codes somewhere safe.")},
	{KindTwoFactorDisabled, "TwoFactorDisabled", func(t *Templates) Template { return t.TwoFactorDisabled }, notice("Two-factor authentication is off", "Two-factor authentication was turned off for your{{with .AppName}} {{.}}{{end}} account{{with .Device}} from {{.}}{{end}}.")},
	{KindBackupCodesRenewed, "BackupCodesRenewed", func(t *Templates) Template { return t.BackupCodesRenewed }, notice("New backup codes were made", "New two-factor backup codes were made for your{{with .AppName}} {{.}}{{end}} account{{with .Device}} from {{.}}{{end}}; the old ones no longer work.")},
	{KindNewDeviceSignIn, "NewDeviceSignIn", func(t *Templates) Template { return t.NewDeviceSignIn }, notice("New sign-in to your account", "Your{{with .AppName}} {{.}}{{end}} account was signed in to from a device or network not seen recently{{with .Device}}: {{.}}{{end}}{{with .IP}}, address {{.}}{{end}}.")},
	{KindPasskeyAdded, "PasskeyAdded", func(t *Templates) Template { return t.PasskeyAdded }, notice("A passkey was added", "A passkey was added to your{{with .AppName}} {{.}}{{end}} account{{with .Device}} from {{.}}{{end}}. A passkey signs in without the password: if it was not you, reset your password with the link below, which ends every session and removes every passkey.")},
	{KindPasskeyRemoved, "PasskeyRemoved", func(t *Templates) Template { return t.PasskeyRemoved }, notice("A passkey was removed", "A passkey was removed from your{{with .AppName}} {{.}}{{end}} account{{with .Device}} from {{.}}{{end}}.")},
}

// compiled is the parsed form of one Template.
type compiled struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// compiledSet is the parsed form of a Templates value, with the sources it
// was parsed from so that a stale cache is detected.
type compiledSet struct {
	src   [len(kinds)]Template
	parts [len(kinds)]compiled
}

// funcs are the functions every template may call.
var (
	textFuncs = texttemplate.FuncMap{"mask": MaskEmail}
	htmlFuncs = htmltemplate.FuncMap{"mask": MaskEmail}
)

// sampleData is the Data each template is executed with by Validate, so
// that a reference to a missing field is reported before any send.
var sampleData = Data{
	AppName:   "Example",
	Email:     "user@example.com",
	NewEmail:  "new@example.com",
	Link:      "https://app.example.com/action?token=abc",
	ExpiresIn: "3 days",
	Device:    "Firefox on Linux",
	IP:        "192.0.2.1",
	User:      User{ID: "1", Email: "user@example.com", Profile: map[string]any{}},
	Locale:    "en",
}

// defaults is the parsed form of the built-in templates, which are known to
// parse, so a failure here is a bug in this package.
var defaults = func() compiledSet {
	var cs compiledSet
	for i, k := range kinds {
		c, err := compile(k.name, k.def)
		if err != nil {
			panic(err)
		}
		cs.parts[i] = c
	}
	return cs
}()

// compile parses and trial-executes the non-empty parts of tpl; the parts
// left nil fall back to the defaults.
func compile(name string, tpl Template) (compiled, error) {
	var c compiled
	var err error
	if tpl.Subject != "" {
		if c.subject, err = texttemplate.New(name + ".Subject").Funcs(textFuncs).Parse(tpl.Subject); err != nil {
			return c, fmt.Errorf("mail: template %s.Subject: %w", name, err)
		}
		if err := c.subject.Execute(new(bytes.Buffer), sampleData); err != nil {
			return c, fmt.Errorf("mail: template %s.Subject: %w", name, err)
		}
	}
	if tpl.Text != "" {
		if c.text, err = texttemplate.New(name + ".Text").Funcs(textFuncs).Parse(tpl.Text); err != nil {
			return c, fmt.Errorf("mail: template %s.Text: %w", name, err)
		}
		if err := c.text.Execute(new(bytes.Buffer), sampleData); err != nil {
			return c, fmt.Errorf("mail: template %s.Text: %w", name, err)
		}
	}
	if tpl.HTML != "" {
		if c.html, err = htmltemplate.New(name + ".HTML").Funcs(htmlFuncs).Parse(tpl.HTML); err != nil {
			return c, fmt.Errorf("mail: template %s.HTML: %w", name, err)
		}
		if err := c.html.Execute(new(bytes.Buffer), sampleData); err != nil {
			return c, fmt.Errorf("mail: template %s.HTML: %w", name, err)
		}
	}
	return c, nil
}

// sources returns the current template sources of t.
func (t *Templates) sources() [len(kinds)]Template {
	var src [len(kinds)]Template
	for i, k := range kinds {
		src[i] = k.field(t)
	}
	return src
}

// compiled returns the parsed templates of t, parsing them when the cache
// is empty or was built from other sources.
func (t *Templates) compiled() (*compiledSet, error) {
	if t == nil {
		return &defaults, nil
	}
	src := t.sources()
	if cs, ok := t.cache.Load().(*compiledSet); ok && cs.src == src {
		return cs, nil
	}
	cs := &compiledSet{src: src}
	var errs []error
	for i, k := range kinds {
		c, err := compile(k.name, src[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs.parts[i] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t.cache.Store(cs)
	return cs, nil
}

// Validate parses every overriding template and executes it once with
// sample data, and returns an error naming each broken one (for instance
// "mail: template PasswordReset.HTML: ..."). A nil error means Render can
// only fail on the data it is given. It is safe for concurrent use.
func (t *Templates) Validate() error {
	_, err := t.compiled()
	return err
}

// Defines reports whether t overrides any part of the template of kind
// (one of the Kind constants): false for a nil t, an unknown kind, or a
// kind whose Template is zero. It is safe for concurrent use.
func (t *Templates) Defines(kind string) bool {
	if t == nil {
		return false
	}
	for _, k := range kinds {
		if k.kind == kind {
			return k.field(t) != Template{}
		}
	}
	return false
}

// Render builds the Message of the given kind (one of the Kind constants)
// for recipient to, from sender from, executing the kind's templates with
// data. Message.Links is []string{data.Link} when data.Link is non-empty.
// It returns an error for an unknown kind, a broken override (see
// Validate) or a rendered subject that contains a line break. It is safe
// for concurrent use.
func (t *Templates) Render(kind, from, to string, data Data) (Message, error) {
	idx := -1
	for i, k := range kinds {
		if k.kind == kind {
			idx = i
			break
		}
	}
	if idx < 0 {
		return Message{}, fmt.Errorf("mail: unknown message kind %q", kind)
	}
	cs, err := t.compiled()
	if err != nil {
		return Message{}, err
	}
	own, def := cs.parts[idx], defaults.parts[idx]
	subject, text, html := def.subject, def.text, def.html
	if own.subject != nil {
		subject = own.subject
	}
	if own.text != nil {
		text = own.text
	}
	if own.html != nil {
		html = own.html
	}

	var sb, tb, hb strings.Builder
	if err := subject.Execute(&sb, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	if err := text.Execute(&tb, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := html.Execute(&hb, data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s HTML: %w", kind, err)
	}
	subj := strings.TrimSpace(sb.String())
	if strings.ContainsAny(subj, "\r\n") {
		return Message{}, fmt.Errorf("mail: render %s subject: line break in subject", kind)
	}
	msg := Message{
		To:      to,
		From:    from,
		Subject: subj,
		Text:    tb.String(),
		HTML:    hb.String(),
		Kind:    kind,
	}
	if data.Link != "" {
		msg.Links = []string{data.Link}
	}
	return msg, nil
}

// MaskEmail hides most of the local part of an email address, keeping its
// first character and the domain: "jane@example.com" becomes
// "j***@example.com". A local part of one character is hidden entirely
// ("***@example.com"), and a string without "@" becomes "***".
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "***"
	}
	local, domain := []rune(email[:at]), email[at:]
	if len(local) < 2 {
		return "***" + domain
	}
	return string(local[0]) + "***" + domain
}

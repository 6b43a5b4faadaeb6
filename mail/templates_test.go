package mail_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/mail"
)

var allKinds = []string{
	mail.KindVerifyAccount,
	mail.KindPasswordReset,
	mail.KindEmailChangeConfirm,
	mail.KindEmailChangedNotice,
	mail.KindSignupAttempt,
}

func sampleData() mail.Data {
	return mail.Data{
		AppName:   "Acme",
		Email:     "jane.doe@example.com",
		NewEmail:  "jane.new@example.org",
		Link:      "https://app.example.com/verify?uid=42&token=abc",
		ExpiresIn: "3 days",
	}
}

func TestRenderDefaults(t *testing.T) {
	data := sampleData()
	tests := []struct {
		kind        string
		textHas     []string
		textHasNot  []string
		subjectWant string
	}{
		{
			kind:        mail.KindVerifyAccount,
			subjectWant: "Acme: Confirm your email address",
			textHas:     []string{"Confirm your email address", "The link expires in 3 days.", "If you did not sign up, ignore this email."},
		},
		{
			kind:        mail.KindPasswordReset,
			subjectWant: "Acme: Reset your password",
			textHas:     []string{"The link expires in 3 days.", "If you did not ask, ignore this email; your password is unchanged."},
		},
		{
			kind:        mail.KindEmailChangeConfirm,
			subjectWant: "Acme: Confirm your new email address",
			textHas:     []string{data.NewEmail, "The link expires in 3 days."},
			textHasNot:  []string{data.Email},
		},
		{
			kind:        mail.KindEmailChangedNotice,
			subjectWant: "Acme: Your email address was changed",
			textHas:     []string{"j***@example.org"},
			textHasNot:  []string{data.NewEmail},
		},
		{
			kind:        mail.KindSignupAttempt,
			subjectWant: "Acme: Sign-up attempt with your email address",
			textHas:     []string{"tried to sign up", "already has an account"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			var tpl mail.Templates
			msg, err := tpl.Render(tt.kind, "noreply@example.com", "rcpt@example.com", data)
			if err != nil {
				t.Fatalf("Render: got error %v, want nil", err)
			}
			if msg.Kind != tt.kind || msg.To != "rcpt@example.com" || msg.From != "noreply@example.com" {
				t.Errorf("got Kind=%q To=%q From=%q, want %q rcpt@example.com noreply@example.com", msg.Kind, msg.To, msg.From, tt.kind)
			}
			if msg.Subject != tt.subjectWant {
				t.Errorf("got subject %q, want %q", msg.Subject, tt.subjectWant)
			}
			if want := []string{data.Link}; !slices.Equal(msg.Links, want) {
				t.Errorf("got links %q, want %q", msg.Links, want)
			}
			if !strings.Contains(msg.Text, data.Link) {
				t.Errorf("got text without the link %q:\n%s", data.Link, msg.Text)
			}
			if escaped := strings.ReplaceAll(data.Link, "&", "&amp;"); !strings.Contains(msg.HTML, escaped) {
				t.Errorf("got HTML without the escaped link %q:\n%s", escaped, msg.HTML)
			}
			for _, s := range tt.textHas {
				if !strings.Contains(msg.Text, s) {
					t.Errorf("got text without %q:\n%s", s, msg.Text)
				}
			}
			for _, s := range tt.textHasNot {
				if strings.Contains(msg.Text, s) || strings.Contains(msg.HTML, s) {
					t.Errorf("got a body containing %q, want it absent", s)
				}
			}
			for _, bad := range []string{"<img", "<script", "src=", "@import", "url("} {
				if strings.Contains(msg.HTML, bad) {
					t.Errorf("got HTML containing %q, want no remote content or tracking", bad)
				}
			}
		})
	}
}

func TestRenderNilTemplatesUsesDefaults(t *testing.T) {
	var nilTpl *mail.Templates
	var zero mail.Templates
	for _, kind := range allKinds {
		got, err := nilTpl.Render(kind, "a@example.com", "b@example.com", sampleData())
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", kind, err)
		}
		want, err := zero.Render(kind, "a@example.com", "b@example.com", sampleData())
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", kind, err)
		}
		if got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("%s: nil *Templates rendered differently from the zero Templates", kind)
		}
	}
	if err := nilTpl.Validate(); err != nil {
		t.Errorf("Validate on nil: got %v, want nil", err)
	}
}

func TestRenderNoLinkNoLinks(t *testing.T) {
	data := sampleData()
	data.Link = ""
	msg, err := new(mail.Templates).Render(mail.KindEmailChangedNotice, "a@example.com", "b@example.com", data)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if msg.Links != nil {
		t.Errorf("got links %q, want nil", msg.Links)
	}
}

// TestSubjectCarriesNoUserData renders every kind with user-controlled
// fields set to markers and checks that no marker reaches the subject.
func TestSubjectCarriesNoUserData(t *testing.T) {
	data := mail.Data{
		AppName:   "Acme",
		Email:     "MARKEREMAIL@example.com",
		NewEmail:  "MARKERNEW@example.com",
		Link:      "https://example.com/MARKERLINK",
		ExpiresIn: "MARKEREXP",
	}
	for _, kind := range allKinds {
		msg, err := new(mail.Templates).Render(kind, "a@example.com", "b@example.com", data)
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", kind, err)
		}
		if strings.Contains(msg.Subject, "MARKER") {
			t.Errorf("%s: got subject %q, want no user data in it", kind, msg.Subject)
		}
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	const script = "<script>alert(1)</script>"
	data := mail.Data{
		AppName:   "App" + script,
		Email:     script + "@example.com",
		NewEmail:  "x" + script + "@example.com",
		Link:      "javascript:alert(1)",
		ExpiresIn: script,
	}
	custom := &mail.Templates{
		VerifyAccount: mail.Template{HTML: `<p>{{.Email}} <a href="{{.Link}}">go</a> {{.AppName}}</p>`},
	}
	for _, tpl := range []*mail.Templates{nil, custom} {
		for _, kind := range allKinds {
			msg, err := tpl.Render(kind, "a@example.com", "b@example.com", data)
			if err != nil {
				t.Fatalf("%s: got error %v, want nil", kind, err)
			}
			if strings.Contains(msg.HTML, "<script") {
				t.Errorf("%s: got HTML with an unescaped <script>:\n%s", kind, msg.HTML)
			}
			if strings.Contains(msg.HTML, `href="javascript:`) {
				t.Errorf("%s: got HTML with a javascript: link:\n%s", kind, msg.HTML)
			}
		}
	}
}

func TestRenderUnknownKind(t *testing.T) {
	for _, kind := range []string{"", "verify", "VERIFY_ACCOUNT", "password_reset "} {
		if _, err := new(mail.Templates).Render(kind, "a@example.com", "b@example.com", sampleData()); err == nil {
			t.Errorf("Render(%q): got nil error, want an error", kind)
		}
	}
}

func TestOverrides(t *testing.T) {
	tpl := &mail.Templates{
		PasswordReset: mail.Template{Subject: "Password help for {{.AppName}}"},
		EmailChangedNotice: mail.Template{
			Subject: "Address changed",
			Text:    "Now {{mask .NewEmail}} via {{.Link}}.",
			HTML:    "<b>{{mask .NewEmail}}</b>",
		},
	}
	if err := tpl.Validate(); err != nil {
		t.Fatalf("Validate: got %v, want nil", err)
	}
	data := sampleData()

	reset, err := tpl.Render(mail.KindPasswordReset, "a@example.com", "b@example.com", data)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	def, err := new(mail.Templates).Render(mail.KindPasswordReset, "a@example.com", "b@example.com", data)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if want := "Password help for Acme"; reset.Subject != want {
		t.Errorf("got subject %q, want %q", reset.Subject, want)
	}
	if reset.Text != def.Text || reset.HTML != def.HTML {
		t.Errorf("got bodies different from the defaults, want an empty part to keep its default")
	}

	notice, err := tpl.Render(mail.KindEmailChangedNotice, "a@example.com", "b@example.com", data)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if want := "Now j***@example.org via " + data.Link + "."; notice.Text != want {
		t.Errorf("got text %q, want %q", notice.Text, want)
	}
	if want := "<b>j***@example.org</b>"; notice.HTML != want {
		t.Errorf("got HTML %q, want %q", notice.HTML, want)
	}

	verify, err := tpl.Render(mail.KindVerifyAccount, "a@example.com", "b@example.com", data)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if want := "Acme: Confirm your email address"; verify.Subject != want {
		t.Errorf("got subject %q of a kind not overridden, want %q", verify.Subject, want)
	}
}

// TestOverrideChangedAfterUse checks that the parsed-template cache follows
// a field changed between uses.
func TestOverrideChangedAfterUse(t *testing.T) {
	tpl := &mail.Templates{SignupAttempt: mail.Template{Subject: "first"}}
	for _, want := range []string{"first", "second"} {
		tpl.SignupAttempt.Subject = want
		msg, err := tpl.Render(mail.KindSignupAttempt, "a@example.com", "b@example.com", sampleData())
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if msg.Subject != want {
			t.Errorf("got subject %q, want %q", msg.Subject, want)
		}
	}
	tpl.SignupAttempt.Text = "{{.Broken"
	if err := tpl.Validate(); err == nil {
		t.Errorf("Validate after breaking a field: got nil, want an error")
	}
}

func TestValidateBrokenOverride(t *testing.T) {
	tests := []struct {
		name     string
		tpl      mail.Templates
		wantName string
	}{
		{"unclosed action", mail.Templates{VerifyAccount: mail.Template{Text: "{{.Link"}}, "VerifyAccount.Text"},
		{"unknown field", mail.Templates{PasswordReset: mail.Template{HTML: "<p>{{.Token}}</p>"}}, "PasswordReset.HTML"},
		{"unknown function", mail.Templates{EmailChangeConfirm: mail.Template{Subject: "{{shout .AppName}}"}}, "EmailChangeConfirm.Subject"},
		{"bad HTML context", mail.Templates{SignupAttempt: mail.Template{HTML: `<a href="{{.Link}}`}}, "SignupAttempt.HTML"},
		{"unclosed block", mail.Templates{EmailChangedNotice: mail.Template{Text: "{{if .Link}}x"}}, "EmailChangedNotice.Text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tpl.Validate()
			if err == nil {
				t.Fatalf("Validate: got nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantName) {
				t.Errorf("got error %q, want it to name %s", err, tt.wantName)
			}
			for _, kind := range allKinds {
				if _, err := tt.tpl.Render(kind, "a@example.com", "b@example.com", sampleData()); err == nil {
					t.Errorf("Render(%s) with a broken override: got nil error, want an error", kind)
				}
			}
		})
	}
}

func TestRenderRefusesLineBreakInSubject(t *testing.T) {
	data := sampleData()
	data.AppName = "Acme\r\nBcc: victim@example.com"
	if _, err := new(mail.Templates).Render(mail.KindVerifyAccount, "a@example.com", "b@example.com", data); err == nil {
		t.Errorf("got nil error for a subject with a line break, want an error")
	}
}

func TestRenderConcurrent(t *testing.T) {
	tpl := &mail.Templates{VerifyAccount: mail.Template{Subject: "Hi {{.AppName}}", HTML: "<p>{{.Email}}</p>"}}
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				data := sampleData()
				data.Email = fmt.Sprintf("u%d-%d@example.com", g, i)
				kind := allKinds[(g+i)%len(allKinds)]
				msg, err := tpl.Render(kind, "a@example.com", data.Email, data)
				if err != nil {
					errs <- err
					continue
				}
				if kind == mail.KindVerifyAccount && msg.HTML != "<p>"+data.Email+"</p>" {
					errs <- fmt.Errorf("got HTML %q, want <p>%s</p>", msg.HTML, data.Email)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMaskEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"jane@example.com", "j***@example.com"},
		{"jo@example.com", "j***@example.com"},
		{"j@example.com", "***@example.com"},
		{"@example.com", "***@example.com"},
		{"élodie@exemple.fr", "é***@exemple.fr"},
		{`"a@b"@example.com`, `"***@example.com`},
		{"no-at-sign", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		if got := mail.MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDefines checks which kinds a Templates value overrides.
func TestDefines(t *testing.T) {
	tpl := &mail.Templates{PasswordReset: mail.Template{HTML: "<p>{{.Link}}</p>"}}
	for _, tc := range []struct {
		t    *mail.Templates
		kind string
		want bool
	}{
		{tpl, mail.KindPasswordReset, true},
		{tpl, mail.KindVerifyAccount, false},
		{tpl, "no_such_kind", false},
		{nil, mail.KindPasswordReset, false},
		{&mail.Templates{}, mail.KindNewDeviceSignIn, false},
		{&mail.Templates{NewDeviceSignIn: mail.Template{Subject: "x"}}, mail.KindNewDeviceSignIn, true},
	} {
		if got := tc.t.Defines(tc.kind); got != tc.want {
			t.Errorf("Defines(%q) on %+v: got %v, want %v", tc.kind, tc.t, got, tc.want)
		}
	}
}

// TestRenderUser checks that a template can greet the user from
// Data.User, its profile included, and that Validate accepts such a
// template (the sample data has a User).
func TestRenderUser(t *testing.T) {
	tpl := &mail.Templates{VerifyAccount: mail.Template{
		Text: "Hello {{with .User.Profile.name}}{{.}}{{else}}{{.User.Email}}{{end}} ({{.User.ID}}, {{.Locale}})",
		HTML: "<p>Hello {{.User.Profile.name}}</p>",
	}}
	if err := tpl.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	data := sampleData()
	data.User = mail.User{ID: "42", Email: "jane.doe@example.com", Profile: map[string]any{"name": "Jane <3"}}
	data.Locale = "fr"
	m, err := tpl.Render(mail.KindVerifyAccount, "noreply@example.com", "jane.doe@example.com", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Hello Jane <3 (42, fr)" || m.HTML != "<p>Hello Jane &lt;3</p>" {
		t.Errorf("got %q and %q, want the greeting by name (escaped in HTML)", m.Text, m.HTML)
	}
	data.User.Profile = nil
	if m, err := tpl.Render(mail.KindVerifyAccount, "noreply@example.com", "jane.doe@example.com", data); err != nil || m.Text != "Hello jane.doe@example.com (42, fr)" {
		t.Errorf("without a profile: got %q, %v, want the greeting by email", m.Text, err)
	}
}

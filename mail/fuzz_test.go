package mail_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authsys-go/authsys/mail"
)

// FuzzMaskEmail checks that MaskEmail, which shows a user-supplied address
// in mail, keeps at most the first character of the local part and the
// domain (from the last "@"), and never more.
func FuzzMaskEmail(f *testing.F) {
	for _, s := range []string{"jane@example.com", "j@example.com", "@example.com", "", "no-at-sign", "a@b@c", "ünïcode@example.com", "\xff\xfe@x", "<script>@x", "a@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := mail.MaskEmail(s)
		at := strings.LastIndexByte(s, '@')
		if at < 0 {
			if m != "***" {
				t.Fatalf("MaskEmail(%q) = %q, want ***", s, m)
			}
			return
		}
		domain := s[at:]
		if !strings.HasSuffix(m, "***"+domain) {
			t.Fatalf("MaskEmail(%q) = %q, want it to end in ***%s", s, m, domain)
		}
		shown := strings.TrimSuffix(m, "***"+domain)
		if utf8.RuneCountInString(shown) > 1 || !strings.HasPrefix(s, shown) && shown != string(utf8.RuneError) {
			t.Fatalf("MaskEmail(%q) = %q shows %q of the local part, want at most its first character", s, m, shown)
		}
	})
}

// FuzzRender renders every message kind with user-supplied addresses and
// prints it with Console: rendering never fails, the HTML part never holds
// markup that comes from an address, and Console's header lines stay one
// line each whatever the addresses hold.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"jane@example.com", "<script>alert(1)</script>@x", "a\r\nBcc: evil@x", "\"><img src=x>@x", "", "\u2028@x", "\x00@x"} {
		f.Add(uint8(0), s, "new@example.com")
		f.Add(uint8(3), "old@example.com", s)
	}
	kinds := []string{mail.KindVerifyAccount, mail.KindPasswordReset, mail.KindEmailChangeConfirm, mail.KindEmailChangedNotice, mail.KindSignupAttempt}
	tpl := &mail.Templates{}
	render := func(t *testing.T, k, email, newEmail string) mail.Message {
		msg, err := tpl.Render(k, "noreply@example.com", email, mail.Data{
			AppName: "Fuzz", Email: email, NewEmail: newEmail,
			Link: "https://app.example.com/x?token=abc", ExpiresIn: "1 hour",
		})
		if err != nil {
			t.Fatalf("Render(%s, %q, %q): %v", k, email, newEmail, err)
		}
		return msg
	}
	// neutral keeps the "@" of s (MaskEmail reads them) and replaces every
	// other character with x.
	neutral := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '@' {
				return r
			}
			return 'x'
		}, s)
	}
	f.Fuzz(func(t *testing.T, kind uint8, email, newEmail string) {
		k := kinds[int(kind)%len(kinds)]
		msg := render(t, k, email, newEmail)
		// The addresses add no markup: the HTML has as many <, > and " as
		// with plain addresses of the same shape.
		plain := render(t, k, neutral(email), neutral(newEmail))
		for _, c := range []string{"<", ">", "\""} {
			if strings.Count(msg.HTML, c) != strings.Count(plain.HTML, c) {
				t.Fatalf("Render(%s, %q, %q): the addresses add %q to the HTML:\n%s", k, email, newEmail, c, msg.HTML)
			}
		}
		var out strings.Builder
		if err := (&mail.Console{W: &out}).Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		printed := out.String()
		header, _, ok := strings.Cut(printed, "\n\n")
		if !ok {
			t.Fatalf("Console printed no blank line after the headers: %q", printed)
		}
		lines := strings.Split(header, "\n")
		if len(lines) != 4+len(msg.Links) || !strings.HasPrefix(lines[1], "To: ") {
			t.Fatalf("Console printed %d header lines, want %d: %q", len(lines), 4+len(msg.Links), header)
		}
	})
}

package authsys_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/mail/smtp"
)

// fltSlowMailer blocks every send while slow is set, until released or its
// context ends, then fails; otherwise it delivers to the outbox.
type fltSlowMailer struct {
	out *mail.Outbox

	mu       sync.Mutex
	slow     bool
	release  chan struct{}
	returned int // sends that returned while slow
}

func (m *fltSlowMailer) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	slow, release := m.slow, m.release
	m.mu.Unlock()
	if !slow {
		return m.out.Send(ctx, msg)
	}
	defer func() {
		m.mu.Lock()
		m.returned++
		m.mu.Unlock()
	}()
	select {
	case <-release:
		return errors.New("mail server too slow")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fltMailCase is one way the mail server fails. mailer returns the failing
// Mailer, a function that repairs it, and a function that returns the last
// verification link delivered to an address after the repair.
type fltMailCase struct {
	name   string
	mailer func(t *testing.T) (m authsys.Mailer, repair func(), link func(t *testing.T, to string) *url.URL)
	// afterSignup, when set, runs as soon as signup has answered.
	afterSignup func(t *testing.T)
}

func fltMailCases() []fltMailCase {
	outboxLink := func(o *mail.Outbox) func(*testing.T, string) *url.URL {
		return func(t *testing.T, to string) *url.URL {
			m, ok := o.Last(to)
			if !ok || len(m.Links) == 0 {
				t.Fatalf("no mail with a link to %s", to)
			}
			u, err := url.Parse(m.Links[0])
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	// viaSMTP puts a proxy between the smtp.Mailer and an in-process SMTP
	// server; prepare breaks one of them.
	viaSMTP := func(prepare func(p *bkProxy, s *bkSMTP)) func(t *testing.T) (authsys.Mailer, func(), func(*testing.T, string) *url.URL) {
		return func(t *testing.T) (authsys.Mailer, func(), func(*testing.T, string) *url.URL) {
			srv := bkStartSMTP(t)
			p := bkNewProxy(t, "127.0.0.1:"+strconv.Itoa(srv.port))
			m, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: p.ln.Addr().(*net.TCPAddr).Port, TLS: smtp.None, Timeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			prepare(p, srv)
			repair := func() { p.set(bkUp); srv.set(bkSMTPAccept) }
			return m, repair, func(t *testing.T, to string) *url.URL { return srv.lastMailTo(t, to).link(t) }
		}
	}
	slow := &fltSlowMailer{}
	return []fltMailCase{
		{name: "mailer error", mailer: func(t *testing.T) (authsys.Mailer, func(), func(*testing.T, string) *url.URL) {
			o := &mail.Outbox{Err: errors.New("451 4.3.0 try again later")}
			return o, func() { o.Err = nil }, outboxLink(o)
		}},
		{
			name: "slow mailer",
			mailer: func(t *testing.T) (authsys.Mailer, func(), func(*testing.T, string) *url.URL) {
				*slow = fltSlowMailer{out: &mail.Outbox{}, slow: true, release: make(chan struct{})}
				return slow, func() {
					slow.mu.Lock()
					slow.slow = false
					slow.mu.Unlock()
				}, outboxLink(slow.out)
			},
			// The answer came while the send was still blocked: signup
			// never waits for the mail server. Then the send fails.
			afterSignup: func(t *testing.T) {
				slow.mu.Lock()
				returned := slow.returned
				slow.mu.Unlock()
				if returned != 0 {
					t.Errorf("signup answered after the slow send returned: the request waited for the mail server")
				}
				close(slow.release)
			},
		},
		{name: "smtp server refuses", mailer: viaSMTP(func(_ *bkProxy, s *bkSMTP) { s.set(bkSMTPRefuse) })},
		{name: "smtp server stalls", mailer: viaSMTP(func(_ *bkProxy, s *bkSMTP) { s.set(bkSMTPStall) })},
		{name: "smtp server down", mailer: viaSMTP(func(p *bkProxy, _ *bkSMTP) { p.set(bkDown) })},
		{name: "smtp server unresponsive", mailer: viaSMTP(func(p *bkProxy, _ *bkSMTP) { p.set(bkHang) })},
	}
}

// TestFaultsMailFailure proves that a failing or slow mail server never
// fails signup: it answers 201 as usual with the account saved (inactive),
// the failure is logged and emitted as mail_failed, and once the mail
// server is repaired /verify-account/resend/ sends a link that works.
func TestFaultsMailFailure(t *testing.T) {
	for _, tc := range fltMailCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, repair, link := tc.mailer(t)
			logs := &testenv.Buffer{}
			e := newEnv(t, func(c *authsys.Config) {
				c.Mailer = m
				c.Mail.Timeout = 5 * time.Second
				c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			})
			c := e.client()
			r := c.post("/signup/", map[string]string{"email": "alice@example.com", "password": goodPassword})
			expect(t, r, http.StatusCreated, "")
			bkNoLeak(t, r)
			if tc.afterSignup != nil {
				tc.afterSignup(t)
			}
			if err := e.auth.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			u, err := e.store.UserByEmail(t.Context(), "alice@example.com")
			if err != nil {
				t.Fatalf("the account was not saved: %v", err)
			}
			if u.IsActive {
				t.Errorf("got an active account before verification")
			}
			var failed []authsys.Event
			e.events.mu.Lock()
			for _, ev := range e.events.ev {
				if ev.Kind == "mail_failed" {
					failed = append(failed, ev)
				}
			}
			e.events.mu.Unlock()
			if len(failed) != 1 || failed[0].UserID != u.ID || failed[0].Reason != mail.KindVerifyAccount {
				t.Errorf("got mail_failed events %+v, want one for user %s with reason %s", failed, u.ID, mail.KindVerifyAccount)
			}
			if !strings.Contains(logs.String(), "sending mail failed") {
				t.Errorf("the failure was not logged; logs:\n%s", logs.String())
			}
			expect(t, c.post("/login/", map[string]string{"email": "alice@example.com", "password": goodPassword}), http.StatusForbidden, "account_inactive")

			repair()
			expect(t, c.post("/verify-account/resend/", map[string]string{"email": "alice@example.com"}), http.StatusOK, "")
			if err := e.auth.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			q := link(t, "alice@example.com").Query()
			expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
			e.loggedIn("alice@example.com", goodPassword)
		})
	}
}

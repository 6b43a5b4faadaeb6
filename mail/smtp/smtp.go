package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	netsmtp "net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/mail"
)

// Sentinel errors, wrapped and checked with errors.Is.
var (
	// ErrHeaderInjection is returned by Send when an address or the
	// subject of a message contains a line break (or NUL), and by New for
	// such a Config.From; nothing is sent.
	ErrHeaderInjection = errors.New("smtp: line break in a header value")
	// ErrNoStartTLS is returned when TLS mode is StartTLS and the server
	// does not offer STARTTLS; nothing is sent.
	ErrNoStartTLS = errors.New("smtp: server does not offer STARTTLS")
)

// Mailer sends messages to one SMTP server, opening a connection per
// message. It is safe for concurrent use.
type Mailer struct {
	cfg  Config
	addr string
}

var _ mail.Mailer = (*Mailer)(nil)

// New checks cfg, fills in its defaults and returns a Mailer. It returns an
// error naming the offending field, in particular when cfg asks for
// plaintext (TLS None) towards a host that is not a loopback address
// without InsecureAllowPlaintext, or with credentials. New does not
// connect to the server.
func New(cfg Config) (*Mailer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Mailer{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}, nil
}

// Send delivers msg: it connects, secures the connection as configured,
// authenticates with AUTH PLAIN when credentials are configured, and
// transfers the message. msg.From defaults to Config.From. The whole
// exchange ends by ctx's deadline or Config.Timeout, whichever comes first,
// and is abandoned when ctx is canceled; the error then wraps ctx.Err()
// when ctx caused it. A line break in msg.To, msg.From or msg.Subject is
// refused with ErrHeaderInjection before connecting.
func (m *Mailer) Send(ctx context.Context, msg mail.Message) error {
	from := msg.From
	if from == "" {
		from = m.cfg.From
	}
	data, envFrom, envTo, err := buildMessage(msg.To, from, msg.Subject, msg.Text, msg.HTML, time.Now())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(m.cfg.Timeout)
	ctxDeadline, fromCtx := ctx.Deadline()
	fromCtx = fromCtx && !ctxDeadline.After(deadline)
	if fromCtx {
		deadline = ctxDeadline
	}
	if err := m.send(ctx, deadline, envFrom, envTo, data); err != nil {
		cerr := ctx.Err()
		if cerr == nil && fromCtx && errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection's deadline is ctx's, and may fire just
			// before ctx reports it.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil && !errors.Is(err, cerr) {
			return fmt.Errorf("smtp: send to %s: %w: %w", m.addr, cerr, err)
		}
		return fmt.Errorf("smtp: send to %s: %w", m.addr, err)
	}
	return nil
}

// send runs one SMTP conversation that ends by deadline.
func (m *Mailer) send(ctx context.Context, deadline time.Time, from, to string, data []byte) (err error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var conn net.Conn
	if m.cfg.TLS == Implicit {
		d := tls.Dialer{Config: m.cfg.TLSConfig}
		conn, err = d.DialContext(dctx, "tcp", m.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", m.addr)
	}
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// Unblock any read or write at once when ctx is canceled.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := netsmtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(m.cfg.LocalName); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if m.cfg.TLS == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return ErrNoStartTLS
		}
		if err := c.StartTLS(m.cfg.TLSConfig); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if m.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return errors.New("server does not offer AUTH PLAIN")
		}
		// PlainAuth itself refuses to send the credentials unless the
		// connection is TLS or the host is localhost.
		if err := c.Auth(netsmtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message is accepted once DATA succeeded; a failed QUIT does not
	// undo that.
	_ = c.Quit()
	return nil
}

// parseAddress parses one address, refusing line breaks first so that the
// error is ErrHeaderInjection rather than a parse error.
func parseAddress(field, s string) (*netmail.Address, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, fmt.Errorf("%w: %s", ErrHeaderInjection, field)
	}
	if s == "" {
		return nil, fmt.Errorf("smtp: %s is empty", field)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("smtp: %s %q: %w", field, s, err)
	}
	return a, nil
}

// buildMessage checks the header values and returns the RFC 5322 message
// with CRLF line endings, and the envelope sender and recipient.
func buildMessage(to, from, subject, text, html string, now time.Time) (data []byte, envFrom, envTo string, err error) {
	if strings.ContainsAny(subject, "\r\n\x00") {
		return nil, "", "", fmt.Errorf("%w: Subject", ErrHeaderInjection)
	}
	toAddr, err := parseAddress("To", to)
	if err != nil {
		return nil, "", "", err
	}
	fromAddr, err := parseAddress("From", from)
	if err != nil {
		return nil, "", "", err
	}

	var b bytes.Buffer
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("Date", now.Format(time.RFC1123Z))
	h("From", fromAddr.String())
	h("To", toAddr.String())
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Message-ID", "<"+rand.Text()+"@"+messageIDDomain(fromAddr.Address)+">")
	h("MIME-Version", "1.0")

	if html == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, text); err != nil {
			return nil, "", "", err
		}
		return b.Bytes(), fromAddr.Address, toAddr.Address, nil
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", text},
		{"text/html; charset=utf-8", html},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, "", "", err
		}
		if err := writeQP(pw, part.content); err != nil {
			return nil, "", "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", "", err
	}
	h("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), fromAddr.Address, toAddr.Address, nil
}

// writeQP writes s to w quoted-printable encoded, with CRLF line breaks.
func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	return qp.Close()
}

// messageIDDomain returns the domain part of addr for a Message-ID, or
// "localhost" when it has none.
func messageIDDomain(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 && at+1 < len(addr) {
		return addr[at+1:]
	}
	return "localhost"
}

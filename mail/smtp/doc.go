// Package smtp provides a mail.Mailer that delivers messages to an SMTP
// server, built on the standard library's net/smtp client.
//
// The connection is encrypted by default: STARTTLS is required unless TLS
// is implicit (port 465), and plaintext is allowed only towards a loopback
// host or when explicitly permitted. Credentials are sent (AUTH PLAIN) only
// over TLS or to a loopback host. Every send is bounded by the context's
// deadline and by Config.Timeout, which apply to the whole conversation,
// not only to dialing.
//
// Messages are multipart/alternative (plain text and HTML) with
// quoted-printable bodies, or plain text alone when the HTML body is empty;
// the Subject is RFC 2047-encoded when it is not ASCII. A line break in an
// address or the subject is refused with ErrHeaderInjection before anything
// is sent.
package smtp

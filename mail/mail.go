// Package mail defines the Mailer the library sends its messages through,
// the Message it sends, and the templates that render them. Sub-package
// smtp sends over SMTP; Console and Outbox here serve development and tests.
package mail

import "context"

// Message is one email, with a plain-text and an HTML body.
type Message struct {
	// To is the recipient address.
	To string
	// From is the sender address (Config.FromEmail).
	From string
	// Subject is the subject line, UTF-8.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML is the HTML body; empty sends text only.
	HTML string
	// Kind names the template that produced the message (e.g.
	// "verify_account"), for logging and tests.
	Kind string
	// Links are the action links the message carries, in order, for
	// console output and tests.
	Links []string
}

// Mailer sends messages. Implementations must be safe for concurrent use.
type Mailer interface {
	// Send delivers msg or returns an error. It honours ctx's deadline.
	Send(ctx context.Context, msg Message) error
}

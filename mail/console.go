package mail

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"
)

// Console is a Mailer for development that prints each message (kind,
// recipient, sender, subject, links and text body) to W instead of sending
// it. Control characters in the message are replaced, so that a crafted
// address or body cannot drive the terminal. A Console is safe for
// concurrent use: each message is written with a single Write call under a
// mutex. Use it through a pointer.
type Console struct {
	// W receives the messages; nil means os.Stdout.
	W io.Writer

	mu sync.Mutex
}

var _ Mailer = (*Console)(nil)

// Send prints msg to c.W. It returns ctx's error when ctx is already done,
// and the writer's error otherwise.
func (c *Console) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("----- mail: " + printable(msg.Kind, false) + " -----\n")
	b.WriteString("To: " + printable(msg.To, false) + "\n")
	b.WriteString("From: " + printable(msg.From, false) + "\n")
	b.WriteString("Subject: " + printable(msg.Subject, false) + "\n")
	for _, link := range msg.Links {
		b.WriteString("Link: " + printable(link, false) + "\n")
	}
	b.WriteString("\n")
	text := printable(msg.Text, true)
	b.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("----- end of mail -----\n")

	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.W
	if w == nil {
		w = os.Stdout
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printable replaces control characters in s with U+FFFD; when multiline
// is true, line feeds and tabs are kept.
func printable(s string, multiline bool) string {
	return strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

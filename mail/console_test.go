package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/mail"
)

func TestConsolePrints(t *testing.T) {
	var buf bytes.Buffer
	c := &mail.Console{W: &buf}
	msg := mail.Message{
		To:      "jane@example.com",
		From:    "noreply@example.com",
		Subject: "Confirm your email address",
		Text:    "Open the link.\n\tThanks",
		Kind:    mail.KindVerifyAccount,
		Links:   []string{"https://app.example.com/verify?token=abc", "https://app.example.com/other"},
	}
	if err := c.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	out := buf.String()
	for _, want := range []string{
		mail.KindVerifyAccount,
		"To: jane@example.com",
		"Subject: Confirm your email address",
		"Link: https://app.example.com/verify?token=abc",
		"Link: https://app.example.com/other",
		"Open the link.\n\tThanks",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got output without %q:\n%s", want, out)
		}
	}
}

func TestConsoleReplacesControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	c := &mail.Console{W: &buf}
	msg := mail.Message{
		To:      "x@example.com\x1b[2J",
		Subject: "hi\rTo: forged",
		Text:    "body \x1b]0;title\x07 end",
		Links:   []string{"https://x/\x1b[31m"},
	}
	if err := c.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: got %v, want nil", err)
	}
	out := buf.String()
	for _, bad := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(out, bad) {
			t.Errorf("got output containing %q, want control characters replaced:\n%q", bad, out)
		}
	}
}

func TestConsoleCanceledContext(t *testing.T) {
	var buf bytes.Buffer
	c := &mail.Console{W: &buf}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Send(ctx, mail.Message{To: "a@example.com"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Send: got %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("got %d bytes written, want 0", buf.Len())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestConsoleWriterError(t *testing.T) {
	c := &mail.Console{W: failingWriter{}}
	if err := c.Send(t.Context(), mail.Message{To: "a@example.com"}); err == nil {
		t.Errorf("Send: got nil, want the writer's error")
	}
}

// TestConsoleConcurrent sends from many goroutines into one bytes.Buffer
// (which is not safe for concurrent use, so the race detector catches
// unserialized writes) and checks that messages do not interleave.
func TestConsoleConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 25
	var buf bytes.Buffer
	c := &mail.Console{W: &buf}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				id := fmt.Sprintf("g%d-m%d", g, i)
				msg := mail.Message{To: id + "@example.com", Subject: id, Text: strings.Repeat(id+"\n", 5)}
				if err := c.Send(t.Context(), msg); err != nil {
					t.Errorf("Send: got %v, want nil", err)
				}
			}
		})
	}
	wg.Wait()
	blocks := strings.Split(strings.TrimSuffix(buf.String(), "----- end of mail -----\n"), "----- end of mail -----\n")
	if len(blocks) != goroutines*perGoroutine {
		t.Fatalf("got %d messages, want %d", len(blocks), goroutines*perGoroutine)
	}
	for _, b := range blocks {
		_, rest, ok := strings.Cut(b, "Subject: ")
		if !ok {
			t.Fatalf("got a block without a subject:\n%s", b)
		}
		id, _, _ := strings.Cut(rest, "\n")
		if got := strings.Count(b, id+"\n"); got != 6 {
			t.Errorf("got %d lines of %s in its block, want 6 (interleaved output?)", got, id)
		}
	}
}

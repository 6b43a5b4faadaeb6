package mail_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/mail"
)

func TestOutbox(t *testing.T) {
	ctx := t.Context()
	var o mail.Outbox
	if got := o.Len(); got != 0 {
		t.Fatalf("Len of empty outbox: got %d, want 0", got)
	}
	if _, ok := o.Last("a@example.com"); ok {
		t.Fatalf("Last on empty outbox: got ok, want !ok")
	}
	sent := []mail.Message{
		{To: "a@example.com", Subject: "1", Links: []string{"https://x/1"}},
		{To: "b@example.com", Subject: "2"},
		{To: "A@Example.com", Subject: "3", Links: []string{"https://x/3"}},
	}
	for _, m := range sent {
		if err := o.Send(ctx, m); err != nil {
			t.Fatalf("Send: got %v, want nil", err)
		}
	}
	if got := o.Len(); got != 3 {
		t.Errorf("Len: got %d, want 3", got)
	}
	last, ok := o.Last(" a@example.com ")
	if !ok || last.Subject != "3" {
		t.Errorf("Last(a): got %q, %v, want \"3\", true", last.Subject, ok)
	}
	if last, ok := o.Last("b@example.com"); !ok || last.Subject != "2" {
		t.Errorf("Last(b): got %q, %v, want \"2\", true", last.Subject, ok)
	}
	if _, ok := o.Last("c@example.com"); ok {
		t.Errorf("Last(c): got ok, want !ok")
	}

	// Copies must not alias the outbox.
	sent[0].Links[0] = "mutated by the sender"
	msgs := o.Messages()
	msgs[2].Links[0] = "mutated by the reader"
	last.Links[0] = "mutated by the reader"
	again := o.Messages()
	if got := again[0].Links[0]; got != "https://x/1" {
		t.Errorf("got link %q after the sender mutated its message, want https://x/1", got)
	}
	if got := again[2].Links[0]; got != "https://x/3" {
		t.Errorf("got link %q after a reader mutated a copy, want https://x/3", got)
	}

	o.Reset()
	if got := o.Len(); got != 0 {
		t.Errorf("Len after Reset: got %d, want 0", got)
	}
}

func TestOutboxErr(t *testing.T) {
	errDown := errors.New("mail server down")
	o := &mail.Outbox{Err: errDown}
	if err := o.Send(t.Context(), mail.Message{To: "a@example.com"}); !errors.Is(err, errDown) {
		t.Errorf("Send: got %v, want %v", err, errDown)
	}
	if got := o.Len(); got != 0 {
		t.Errorf("Len after a failed send: got %d, want 0", got)
	}
}

func TestOutboxCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var o mail.Outbox
	if err := o.Send(ctx, mail.Message{To: "a@example.com"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Send: got %v, want context.Canceled", err)
	}
	if got := o.Len(); got != 0 {
		t.Errorf("Len: got %d, want 0", got)
	}
}

func TestOutboxConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 50
	var o mail.Outbox
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			to := fmt.Sprintf("user%d@example.com", g)
			for i := range perGoroutine {
				if err := o.Send(t.Context(), mail.Message{To: to, Subject: fmt.Sprint(i), Links: []string{"l"}}); err != nil {
					t.Errorf("Send: got %v, want nil", err)
				}
				_ = o.Len()
				_, _ = o.Last(to)
				if i%10 == 0 {
					_ = o.Messages()
				}
			}
		})
	}
	wg.Wait()
	if got := o.Len(); got != goroutines*perGoroutine {
		t.Errorf("Len: got %d, want %d", got, goroutines*perGoroutine)
	}
	for g := range goroutines {
		last, ok := o.Last(fmt.Sprintf("user%d@example.com", g))
		if want := fmt.Sprint(perGoroutine - 1); !ok || last.Subject != want {
			t.Errorf("Last(user%d): got %q, %v, want %q, true", g, last.Subject, ok, want)
		}
	}
}

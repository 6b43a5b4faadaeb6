package mail

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Outbox is a Mailer for tests that keeps every sent message in memory. It
// is safe for concurrent use. Use it through a pointer; its zero value is an
// empty outbox.
type Outbox struct {
	// Err, when non-nil, is returned by Send, which then keeps nothing; it
	// simulates a failing mailer. Set it before Send is called concurrently.
	Err error

	mu   sync.Mutex
	msgs []Message
}

var _ Mailer = (*Outbox)(nil)

// Send records a copy of msg. It returns ctx's error when ctx is already
// done, and o.Err when it is set.
func (o *Outbox) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Err != nil {
		return o.Err
	}
	o.msgs = append(o.msgs, cloneMessage(msg))
	return nil
}

// Messages returns a copy of the recorded messages, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Message, len(o.msgs))
	for i, m := range o.msgs {
		out[i] = cloneMessage(m)
	}
	return out
}

// Last returns a copy of the most recent message sent to the address to
// (compared case-insensitively, ignoring surrounding white space), and
// false when there is none.
func (o *Outbox) Last(to string) (Message, bool) {
	to = strings.TrimSpace(to)
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(strings.TrimSpace(o.msgs[i].To), to) {
			return cloneMessage(o.msgs[i]), true
		}
	}
	return Message{}, false
}

// Len returns the number of recorded messages.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// Reset forgets every recorded message. It leaves Err unchanged.
func (o *Outbox) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = nil
}

// cloneMessage returns a copy of m that shares no memory with it.
func cloneMessage(m Message) Message {
	m.Links = slices.Clone(m.Links)
	return m
}

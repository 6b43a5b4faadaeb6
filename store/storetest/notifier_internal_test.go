package storetest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// refHub is the backend of a minimal correct store.ChangeNotifier: the
// suite must pass it, and fail each broken variant of it.
type refHub struct {
	// broken names the defect the notifier has; "" for none.
	broken string

	mu   sync.Mutex
	subs map[*refSub]bool
	sent int           // changes announced so far
	held *store.Change // a change the "reorders" defect delivers late
}

// refNotifier is one handle (one instance) on a refHub.
type refNotifier struct{ hub *refHub }

// refSub is one subscription: a queue of callbacks run in order by a
// goroutine of its own.
type refSub struct {
	owner   *refNotifier
	changed func(store.Change)
	ready   func(bool)

	mu    sync.Mutex
	queue []func()
	wake  chan struct{}
}

var _ store.ChangeNotifier = (*refNotifier)(nil)

func newRefPair(broken string) (a, b *refNotifier, h *refHub) {
	h = &refHub{broken: broken, subs: make(map[*refSub]bool)}
	return &refNotifier{hub: h}, &refNotifier{hub: h}, h
}

func (s *refSub) push(f func()) {
	s.mu.Lock()
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (n *refNotifier) NotifyChange(ctx context.Context, c store.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := n.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent++
	switch h.broken {
	case "drops":
		if h.sent%50 == 0 {
			return nil
		}
	case "truncates":
		if len(c.ID) > 100 {
			c.ID = c.ID[:100]
		}
	case "parses-colons":
		c.ID = c.ID[strings.LastIndexByte(c.ID, ':')+1:]
	case "reorders":
		if strings.HasSuffix(c.ID, "-0001") {
			h.held = &c
			return nil
		}
	}
	h.deliver(n, c)
	if h.held != nil {
		h.deliver(n, *h.held)
		h.held = nil
	}
	return nil
}

// deliver queues c, announced on from, to every subscription. The caller
// holds h.mu.
func (h *refHub) deliver(from *refNotifier, c store.Change) {
	for s := range h.subs {
		if h.broken == "only-own" && s.owner != from {
			continue
		}
		s.push(func() { s.changed(c) })
	}
}

func (n *refNotifier) SubscribeChanges(ctx context.Context, changed func(store.Change), ready func(bool)) error {
	h := n.hub
	s := &refSub{owner: n, changed: changed, ready: ready, wake: make(chan struct{}, 1)}
	if h.broken == "concurrent-callbacks" {
		s.changed = func(c store.Change) { go changed(c) }
	}
	if h.broken != "never-ready" {
		s.push(func() { ready(true) })
	}
	h.mu.Lock()
	h.subs[s] = true
	h.mu.Unlock()
	go s.run(ctx, h)
	return nil
}

func (s *refSub) run(ctx context.Context, h *refHub) {
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, f := range q {
			if ctx.Err() != nil && h.broken != "ignores-cancel" {
				break
			}
			f()
		}
		select {
		case <-s.wake:
			continue
		case <-ctx.Done():
		}
		if h.broken == "ignores-cancel" {
			<-s.wake
			continue
		}
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		if h.broken == "leaks-goroutine" {
			select {} // blocks forever
		}
		return
	}
}

// breakSubs makes b's subscriptions lose their connection and reconnect:
// while they are away, changes are lost.
func (h *refHub) breakSubs(b *refNotifier) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.owner != b {
			continue
		}
		if h.broken != "silent-loss" {
			s.push(func() { s.ready(false) })
		}
		if h.broken != "no-resubscribe" {
			s.push(func() { s.ready(true) })
		}
	}
}

func refHarness(broken string) ChangeNotifierHarness {
	a, b, h := newRefPair(broken)
	return ChangeNotifierHarness{A: a, B: b, Break: func() { h.breakSubs(b) }}
}

func TestChangeSuitePassesReference(t *testing.T) {
	RunChangeNotifierHarness(t, func(*testing.T) ChangeNotifierHarness { return refHarness("") })
}

// TestRunChangeNotifierPassesReference runs the suite's short form, which
// skips Reconnect.
func TestRunChangeNotifierPassesReference(t *testing.T) {
	RunChangeNotifier(t, func(*testing.T) (store.ChangeNotifier, store.ChangeNotifier) {
		a, b, _ := newRefPair("")
		return a, b
	})
}

// brokenNotifierEnv names the environment variable that makes
// TestChangeSuiteFailsBrokenNotifiers, run again as a child process, run
// the suite on one broken notifier.
const brokenNotifierEnv = "STORETEST_BROKEN_CHANGE_NOTIFIER"

// TestChangeSuiteFailsBrokenNotifiers runs the suite, in a child process
// of this test binary, against each defect of the reference notifier, and
// requires the case named to fail.
func TestChangeSuiteFailsBrokenNotifiers(t *testing.T) {
	if broken := os.Getenv(brokenNotifierEnv); broken != "" {
		changeWait = 2 * time.Second // the waits that fail, fail sooner
		RunChangeNotifierHarness(t, func(*testing.T) ChangeNotifierHarness { return refHarness(broken) })
		return
	}
	failsBroken(t, "TestChangeSuiteFailsBrokenNotifiers", brokenNotifierEnv, "notifier", []brokenCase{
		{"never-ready", "ReadyThenDelivery"},
		{"only-own", "ReadyThenDelivery"},
		{"only-own", "EverySubscriberHears"},
		{"truncates", "RoundTrip"},
		{"parses-colons", "RoundTrip"},
		{"drops", "Burst"},
		{"reorders", "Burst"},
		{"concurrent-callbacks", "Burst"},
		{"ignores-cancel", "Unsubscribe"},
		{"leaks-goroutine", "Unsubscribe"},
		{"silent-loss", "Reconnect"},
		{"no-resubscribe", "Reconnect"},
	}, true)
}

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/store/storetest"
)

// TestChangeNotifier runs the suite on two handles of one Store, as two
// Auths sharing it hold them.
func TestChangeNotifier(t *testing.T) {
	storetest.RunChangeNotifier(t, func(*testing.T) (store.ChangeNotifier, store.ChangeNotifier) {
		s := memory.New()
		return s, s
	})
}

// events records a subscription's callbacks: "ready(true)",
// "ready(false)" or a change's ID.
type events struct {
	mu  sync.Mutex
	got []string
	ch  chan string
}

func (e *events) add(ev string) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
	e.ch <- ev
}

// next returns the next callback, failing the test after 5 s without one.
func (e *events) next(t *testing.T) string {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("got no callback within 5 s; so far %q", e.got)
		return ""
	}
}

// TestSlowSubscriberOverflow: a subscriber stuck in its callback never
// blocks NotifyChange; when its queue overflows it is told with
// ready(false), then ready(true), and gets the changes announced after the
// overflow.
func TestSlowSubscriberOverflow(t *testing.T) {
	s := memory.New(memory.WithChangeBuffer(4))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e := &events{ch: make(chan string, 100)}
	release := make(chan struct{})
	err := s.SubscribeChanges(ctx, func(c store.Change) {
		e.add(c.ID)
		if c.ID == "c0" {
			<-release
		}
	}, func(ok bool) { e.add(fmt.Sprintf("ready(%t)", ok)) })
	if err != nil {
		t.Fatalf("SubscribeChanges: got error %v, want nil", err)
	}
	if ev := e.next(t); ev != "ready(true)" {
		t.Fatalf("first callback: got %q, want ready(true)", ev)
	}
	notify := func(id string) {
		t.Helper()
		if err := s.NotifyChange(t.Context(), store.Change{Kind: store.ChangeUser, ID: id}); err != nil {
			t.Fatalf("NotifyChange(%s): got error %v, want nil", id, err)
		}
	}
	notify("c0")
	if ev := e.next(t); ev != "c0" {
		t.Fatalf("callback: got %q, want c0", ev)
	}
	// The subscriber is stuck in c0's callback: c1..c4 fill its queue,
	// c5 overflows it (dropping c1..c5), c6 is queued again, and
	// thousands more overflow it again and again without blocking.
	for i := 1; i <= 6; i++ {
		notify(fmt.Sprint("c", i))
	}
	close(release)
	for _, want := range []string{"ready(false)", "ready(true)", "c6"} {
		if ev := e.next(t); ev != want {
			t.Fatalf("callback after the overflow: got %q, want %q (all: %q)", ev, want, e.got)
		}
	}
	notify("c7")
	if ev := e.next(t); ev != "c7" {
		t.Fatalf("callback: got %q, want c7", ev)
	}
}

// TestNotifyNeverBlocks: with a subscriber stuck for good, NotifyChange
// still returns at once, however many changes are announced.
func TestNotifyNeverBlocks(t *testing.T) {
	s := memory.New(memory.WithChangeBuffer(16))
	stuck := make(chan struct{})
	defer close(stuck)
	err := s.SubscribeChanges(t.Context(), func(store.Change) { <-stuck }, func(bool) {})
	if err != nil {
		t.Fatalf("SubscribeChanges: got error %v, want nil", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100_000 {
			if err := s.NotifyChange(t.Context(), store.Change{Kind: store.ChangeSession, ID: fmt.Sprint(i)}); err != nil {
				t.Errorf("NotifyChange: got error %v, want nil", err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("100000 NotifyChange calls with a stuck subscriber did not return within 30 s")
	}
}

func TestChangesEndedContext(t *testing.T) {
	s := memory.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.NotifyChange(ctx, store.Change{Kind: store.ChangeUser, ID: "u"}); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("NotifyChange with a cancelled context: got error %v, want one wrapping %v and %v", err, store.ErrUnavailable, context.Canceled)
	}
	called := make(chan struct{}, 1)
	err := s.SubscribeChanges(ctx, func(store.Change) { called <- struct{}{} }, func(bool) { called <- struct{}{} })
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("SubscribeChanges with a cancelled context: got error %v, want one wrapping %v and %v", err, store.ErrUnavailable, context.Canceled)
	}
	if err := s.NotifyChange(t.Context(), store.Change{Kind: store.ChangeUser, ID: "u"}); err != nil {
		t.Fatalf("NotifyChange: got error %v, want nil", err)
	}
	select {
	case <-called:
		t.Error("a subscription refused for its cancelled context was called back")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestSeparateStoresShareNothing: two Stores are two channels.
func TestSeparateStoresShareNothing(t *testing.T) {
	a, b := memory.New(), memory.New()
	got := make(chan store.Change, 1)
	ready := make(chan bool, 1)
	if err := b.SubscribeChanges(t.Context(), func(c store.Change) { got <- c }, func(ok bool) { ready <- ok }); err != nil {
		t.Fatalf("SubscribeChanges: got error %v, want nil", err)
	}
	<-ready
	if err := a.NotifyChange(t.Context(), store.Change{Kind: store.ChangeUser, ID: "u"}); err != nil {
		t.Fatalf("NotifyChange: got error %v, want nil", err)
	}
	select {
	case c := <-got:
		t.Errorf("subscriber of another Store: got %+v, want nothing", c)
	case <-time.After(100 * time.Millisecond):
	}
}

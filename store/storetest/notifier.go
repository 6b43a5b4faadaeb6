package storetest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// ChangeNotifierHarness is a pair of store.ChangeNotifier handles on one
// backend, as two instances of an application hold them, together with
// what the cases that need more than the handles use.
type ChangeNotifierHarness struct {
	// A and B are two handles (two instances: two pools, two clients) on
	// the same backend, fresh for the case: what one announces, every
	// subscriber of both hears, and nothing else is announced on it.
	A, B store.ChangeNotifier
	// Break makes B's subscriptions lose their connection to the backend
	// (a killed connection, a closed socket): each must then call
	// ready(false), and ready(true) again once it has reconnected. Nil
	// means the backend has no connection to lose (an in-process
	// notifier): the Reconnect case is skipped.
	Break func()
	// Restore undoes Break, if the subscriptions cannot reconnect until it
	// is called (a stopped server); nil when they can reconnect at once
	// (only the connections were killed).
	Restore func()
	// Unordered says that the backend does not promise that the changes
	// one handle announces one after the other reach a subscriber in that
	// order. False means it does, and the Burst case checks it.
	Unordered bool
}

// changeWait bounds how long the suite waits for a subscription to be
// ready, for a change to arrive, or for a subscription's goroutine to end.
// The suite's own tests shorten it.
var changeWait = 10 * time.Second

// changeQuiet is how long the suite waits to conclude that nothing more
// arrives.
const changeQuiet = 200 * time.Millisecond

// RunChangeNotifier runs the store.ChangeNotifier conformance suite on
// pairs of handles. newPair returns, for each subtest, two handles on one
// fresh backend (two instances of an application) and registers any
// cleanup with t.Cleanup. The Reconnect case is skipped: use
// RunChangeNotifierHarness to run it, or to prove a backend that does not
// keep the order of one handle's announcements.
//
// The suite checks that a subscriber calls ready(true) and then receives
// every change announced after it, whether announced on the other handle
// or on its own; that every subscriber of both handles hears each change;
// that Kind and ID survive the round trip, IDs with colons, quotes,
// spaces, Unicode and 200 bytes included; that a burst of hundreds of
// changes from both handles at once all arrive, each handle's in the order
// it announced them; that callbacks are never called concurrently; and
// that cancelling a subscription's context stops its deliveries and ends
// its goroutines.
func RunChangeNotifier(t *testing.T, newPair func(t *testing.T) (a, b store.ChangeNotifier)) {
	t.Helper()
	RunChangeNotifierHarness(t, func(t *testing.T) ChangeNotifierHarness {
		a, b := newPair(t)
		return ChangeNotifierHarness{A: a, B: b}
	})
}

// RunChangeNotifierHarness runs the suite of RunChangeNotifier, plus the
// Reconnect case when the harness has a Break function: after Break, a
// subscription must call ready(false), then (after Restore, when given)
// ready(true) again, and receive the changes announced after that. When
// the harness says Unordered, the Burst case does not check the order.
func RunChangeNotifierHarness(t *testing.T, newHarness func(t *testing.T) ChangeNotifierHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, h ChangeNotifierHarness)
	}{
		{"ReadyThenDelivery", testChangeReadyThenDelivery},
		{"EverySubscriberHears", testChangeEverySubscriber},
		{"RoundTrip", testChangeRoundTrip},
		{"Burst", testChangeBurst},
		{"Unsubscribe", testChangeUnsubscribe},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newHarness(t))
		})
	}
	t.Run("Reconnect", func(t *testing.T) {
		h := newHarness(t)
		if h.Break == nil {
			t.Skip("the harness has no Break function: the notifier has no connection to lose")
		}
		testChangeReconnect(t, h)
	})
}

// changeEvent is one callback: a change, or a ready call.
type changeEvent struct {
	ready  bool // the event is a ready call
	value  bool // ready's argument
	change store.Change
}

func (ev changeEvent) String() string {
	if ev.ready {
		return fmt.Sprintf("ready(%t)", ev.value)
	}
	return fmt.Sprintf("%s %q", ev.change.Kind, ev.change.ID)
}

// changeRecorder records one subscription's callbacks.
type changeRecorder struct {
	name string
	// slow makes every tenth change callback sleep a little, widening the
	// window in which a notifier that calls back concurrently is caught.
	slow atomic.Bool

	mu     sync.Mutex
	events []changeEvent
	signal chan struct{} // has a value after each event

	inFlight   atomic.Int32
	concurrent atomic.Bool
	calls      atomic.Int64
}

func (r *changeRecorder) add(ev changeEvent) {
	if r.inFlight.Add(1) != 1 {
		r.concurrent.Store(true)
	}
	defer r.inFlight.Add(-1)
	n := r.calls.Add(1)
	if r.slow.Load() && !ev.ready && n%10 == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the events so far.
func (r *changeRecorder) snapshot() []changeEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// len returns how many events were recorded so far.
func (r *changeRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFor waits until done, given the events so far, returns true, and
// returns whether it did within changeWait.
func (r *changeRecorder) waitFor(ctx context.Context, done func([]changeEvent) bool) bool {
	deadline := time.NewTimer(changeWait)
	defer deadline.Stop()
	for {
		if done(r.snapshot()) {
			return true
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			return done(r.snapshot())
		case <-ctx.Done():
			return false
		}
	}
}

// waitReady waits for a ready(want) call at index from or after, and
// returns its index; the case fails when none comes within changeWait.
func (r *changeRecorder) waitReady(t *testing.T, want bool, from int) int {
	t.Helper()
	at := -1
	ok := r.waitFor(t.Context(), func(evs []changeEvent) bool {
		for i := from; i < len(evs); i++ {
			if evs[i].ready && evs[i].value == want {
				at = i
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("%s: got no ready(%t) within %v; callbacks: %s", r.name, want, changeWait, summary(r.snapshot()[from:]))
	}
	return at
}

// waitChanges waits until every change of want has arrived at index from
// or after, and returns the changes that arrived from there; the case
// fails, naming the missing ones, when they do not within changeWait.
func (r *changeRecorder) waitChanges(t *testing.T, from int, want []store.Change) []store.Change {
	t.Helper()
	var got []store.Change
	ok := r.waitFor(t.Context(), func(evs []changeEvent) bool {
		got = changesOf(evs[from:])
		return len(missing(got, want)) == 0
	})
	if !ok {
		miss := missing(got, want)
		t.Fatalf("%s: %d of %d changes did not arrive within %v, first %s; callbacks: %s",
			r.name, len(miss), len(want), changeWait, describe(miss[:min(len(miss), 5)]), summary(r.snapshot()[from:]))
	}
	return got
}

// changesOf returns the changes among evs.
func changesOf(evs []changeEvent) []store.Change {
	var out []store.Change
	for _, ev := range evs {
		if !ev.ready {
			out = append(out, ev.change)
		}
	}
	return out
}

// missing returns the changes of want that got lacks.
func missing(got, want []store.Change) []store.Change {
	have := make(map[store.Change]bool, len(got))
	for _, c := range got {
		have[c] = true
	}
	var out []store.Change
	for _, c := range want {
		if !have[c] {
			out = append(out, c)
		}
	}
	return out
}

// describe formats changes for a failure message.
func describe(cs []store.Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %q", c.Kind, c.ID)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// summary formats callbacks for a failure message: the ready calls, and
// how many changes came between them.
func summary(evs []changeEvent) string {
	var parts []string
	n := 0
	for _, ev := range evs {
		if ev.ready {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%d changes", n))
				n = 0
			}
			parts = append(parts, ev.String())
			continue
		}
		n++
	}
	if n > 0 {
		parts = append(parts, fmt.Sprintf("%d changes", n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// subscription is one SubscribeChanges call of a case.
type subscription struct {
	*changeRecorder
	cancel context.CancelFunc
}

// subscribe subscribes to n's changes with a recorder named name, until
// the case ends or the returned subscription is cancelled, and reports at
// the end of the case any callbacks that overlapped.
func subscribe(t *testing.T, n store.ChangeNotifier, name string) subscription {
	t.Helper()
	r := &changeRecorder{name: name, signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if r.concurrent.Load() {
			t.Errorf("%s: callbacks were called concurrently, want one at a time", name)
		}
	})
	err := n.SubscribeChanges(ctx,
		func(c store.Change) { r.add(changeEvent{change: c}) },
		func(ok bool) { r.add(changeEvent{ready: true, value: ok}) })
	if err != nil {
		t.Fatalf("%s: SubscribeChanges: got error %v, want nil", name, err)
	}
	return subscription{changeRecorder: r, cancel: cancel}
}

// announce announces c on n, failing the case on an error.
func announce(t *testing.T, n store.ChangeNotifier, handle string, c store.Change) {
	t.Helper()
	if err := n.NotifyChange(t.Context(), c); err != nil {
		t.Fatalf("NotifyChange(%s %q) on %s: got error %v, want nil", c.Kind, c.ID, handle, err)
	}
}

// changeTag returns a prefix unique to the case, so that a change of
// another case (or process) on a shared backend is never mistaken for one
// of this case.
func changeTag(t *testing.T) string {
	return UniqueName(t) + "-"
}

func testChangeReadyThenDelivery(t *testing.T, h ChangeNotifierHarness) {
	sub := subscribe(t, h.B, "subscriber on B")
	at := sub.waitReady(t, true, 0)
	tag := changeTag(t)
	fromA := store.Change{Kind: store.ChangeUser, ID: tag + "from-a"}
	fromB := store.Change{Kind: store.ChangeSession, ID: tag + "from-b"}
	announce(t, h.A, "A", fromA)
	sub.waitChanges(t, at, []store.Change{fromA})
	announce(t, h.B, "B", fromB)
	sub.waitChanges(t, at, []store.Change{fromB})
}

func testChangeEverySubscriber(t *testing.T, h ChangeNotifierHarness) {
	subs := []subscription{
		subscribe(t, h.A, "first subscriber on A"),
		subscribe(t, h.A, "second subscriber on A"),
		subscribe(t, h.B, "subscriber on B"),
	}
	ats := make([]int, len(subs))
	for i, s := range subs {
		ats[i] = s.waitReady(t, true, 0)
	}
	tag := changeTag(t)
	want := []store.Change{
		{Kind: store.ChangeUser, ID: tag + "from-a"},
		{Kind: store.ChangeSession, ID: tag + "from-b"},
	}
	announce(t, h.A, "A", want[0])
	announce(t, h.B, "B", want[1])
	for i, s := range subs {
		s.waitChanges(t, ats[i], want)
	}
}

// oddIDs are IDs whose round trip the RoundTrip case checks.
func oddIDs() []string {
	return []string{
		"plain",
		"a:b:c",
		"u:looks-like-a-payload",
		"s:",
		":",
		"with space, 'quotes' \"and\" \\backslash\\",
		"%s %d {{.}} $1 ${x}",
		"ünïcödé — ユーザー ✓ 🔑",
		"tab\there",
		strings.Repeat("x", 199) + "y",
		strings.Repeat("é", 100), // 200 bytes
	}
}

func testChangeRoundTrip(t *testing.T, h ChangeNotifierHarness) {
	sub := subscribe(t, h.B, "subscriber on B")
	at := sub.waitReady(t, true, 0)
	tag := changeTag(t)
	var want []store.Change
	for _, kind := range []string{store.ChangeUser, store.ChangeSession} {
		for _, id := range oddIDs() {
			want = append(want, store.Change{Kind: kind, ID: tag + id})
		}
	}
	// The same ID of both kinds, announced by both handles.
	want = append(want, store.Change{Kind: store.ChangeUser, ID: tag + "same"}, store.Change{Kind: store.ChangeSession, ID: tag + "same"})
	for i, c := range want {
		if i%2 == 0 {
			announce(t, h.A, "A", c)
		} else {
			announce(t, h.B, "B", c)
		}
	}
	got := sub.waitChanges(t, at, want)
	wanted := make(map[store.Change]bool, len(want))
	for _, c := range want {
		wanted[c] = true
	}
	for _, c := range got {
		if !wanted[c] && strings.Contains(c.ID, tag) {
			t.Errorf("subscriber on B: got change %s %q, which was never announced (a damaged ID or kind)", c.Kind, c.ID)
		}
	}
}

// burstSize is how many changes each handle announces in the Burst case.
const burstSize = 300

func testChangeBurst(t *testing.T, h ChangeNotifierHarness) {
	sub := subscribe(t, h.B, "subscriber on B")
	sub.slow.Store(true)
	at := sub.waitReady(t, true, 0)
	tag := changeTag(t)
	seqs := map[string][]store.Change{}
	for _, handle := range []string{"A", "B"} {
		for i := range burstSize {
			kind := store.ChangeUser
			if i%3 == 0 {
				kind = store.ChangeSession
			}
			seqs[handle] = append(seqs[handle], store.Change{Kind: kind, ID: fmt.Sprintf("%s%s-%04d", tag, handle, i)})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for handle, n := range map[string]store.ChangeNotifier{"A": h.A, "B": h.B} {
		wg.Go(func() {
			for _, c := range seqs[handle] {
				if err := n.NotifyChange(t.Context(), c); err != nil {
					errs <- fmt.Errorf("NotifyChange(%s %q) on %s: got error %v, want nil", c.Kind, c.ID, handle, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := sub.waitChanges(t, at, append(slices.Clone(seqs["A"]), seqs["B"]...))
	for _, ev := range sub.snapshot()[at+1:] {
		if ev.ready {
			t.Errorf("subscriber on B: got %v during the burst, want the subscription to stay ready", ev)
		}
	}
	if h.Unordered {
		return
	}
	for handle, seq := range seqs {
		// The order of first arrivals; a duplicate later is harmless.
		pos := make(map[store.Change]int, len(got))
		for i, c := range got {
			if _, ok := pos[c]; !ok {
				pos[c] = i
			}
		}
		for i := 1; i < len(seq); i++ {
			if pos[seq[i]] < pos[seq[i-1]] {
				t.Errorf("subscriber on B: %q arrived before %q, want %s's changes in the order it announced them",
					seq[i].ID, seq[i-1].ID, handle)
				break
			}
		}
	}
}

func testChangeUnsubscribe(t *testing.T, h ChangeNotifierHarness) {
	live := subscribe(t, h.B, "live subscriber on B")
	liveAt := live.waitReady(t, true, 0)
	tag := changeTag(t)
	// Warm the handles up, so that the goroutines of their connections
	// already run when the baseline is counted.
	warm := []store.Change{{Kind: store.ChangeUser, ID: tag + "warm-a"}, {Kind: store.ChangeUser, ID: tag + "warm-b"}}
	announce(t, h.A, "A", warm[0])
	announce(t, h.B, "B", warm[1])
	live.waitChanges(t, liveAt, warm)
	baseline := steadyGoroutines()

	gone := subscribe(t, h.B, "cancelled subscriber on B")
	goneAt := gone.waitReady(t, true, 0)
	before := store.Change{Kind: store.ChangeUser, ID: tag + "before-cancel"}
	announce(t, h.A, "A", before)
	gone.waitChanges(t, goneAt, []store.Change{before})
	gone.cancel()

	deadline := time.Now().Add(changeWait)
	n := runtime.NumGoroutine()
	for n > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > baseline {
		t.Errorf("goroutines %v after cancelling a subscription: got %d, want at most %d as before it", changeWait, n, baseline)
	}
	settled := gone.len()

	after := store.Change{Kind: store.ChangeSession, ID: tag + "after-cancel"}
	announce(t, h.A, "A", after)
	live.waitChanges(t, liveAt, []store.Change{after})
	time.Sleep(changeQuiet)
	if evs := gone.snapshot(); len(evs) > settled {
		t.Errorf("cancelled subscriber on B: got %s after its context was cancelled, want no callback", summary(evs[settled:]))
	}
}

// steadyGoroutines returns the number of goroutines once it has stayed
// the same for 50 ms (or after a second): a goroutine that is ending,
// such as the previous subtest's, is not counted.
func steadyGoroutines() int {
	n, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

func testChangeReconnect(t *testing.T, h ChangeNotifierHarness) {
	sub := subscribe(t, h.B, "subscriber on B")
	at := sub.waitReady(t, true, 0)
	tag := changeTag(t)
	first := store.Change{Kind: store.ChangeUser, ID: tag + "before-break"}
	announce(t, h.A, "A", first)
	sub.waitChanges(t, at, []store.Change{first})

	h.Break()
	lost := sub.waitReady(t, false, at+1)
	if h.Restore != nil {
		h.Restore()
	}
	back := sub.waitReady(t, true, lost+1)
	after := store.Change{Kind: store.ChangeSession, ID: tag + "after-reconnect"}
	announce(t, h.A, "A", after)
	sub.waitChanges(t, back, []store.Change{after})
}

package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// PendingHarness is a store.PendingStore under test together with a way to
// move its clock.
type PendingHarness struct {
	// Store is the store under test, fresh and empty.
	Store store.PendingStore
	// Advance moves the store's clock forward by d. Nil means the store
	// runs on real time (as Redis does): the suite then uses TTLs of a few
	// hundred milliseconds and sleeps past them.
	Advance func(d time.Duration)
	// Break makes Store's backend unreachable for the rest of the case:
	// it closes the database, pool or client Store uses, or points it at
	// an address where nothing answers. The Outage case then requires
	// every method to fail with an error wrapping store.ErrUnavailable,
	// never a raw driver error. Nil means the store has no backend to
	// lose (an in-memory store): the Outage case is skipped.
	Break func()
}

// Time to live of entries that must not expire during a case.
const longTTL = time.Hour

// raceRounds is how many times a race on one key repeats, on fresh keys,
// to make a lost race likely to show.
const raceRounds = 5

// Expiring TTLs and the extra wait that makes sure they have passed, with
// a fake clock and on real time.
const (
	fakeTTL   = 10 * time.Second
	fakeSlack = time.Millisecond
	realTTL   = 200 * time.Millisecond
	realSlack = 50 * time.Millisecond
)

// pendingEnv is one case's store and clock.
type pendingEnv struct {
	t       *testing.T
	s       store.PendingStore
	advance func(time.Duration)
}

// ttl returns the TTL of entries that a case lets expire.
func (e pendingEnv) ttl() time.Duration {
	if e.advance == nil {
		return realTTL
	}
	return fakeTTL
}

// wait moves the store's clock forward by d.
func (e pendingEnv) wait(d time.Duration) {
	if e.advance == nil {
		time.Sleep(d)
		return
	}
	e.advance(d)
}

// expireAfter waits until an entry written with the expiring TTL before
// the case already waited for waited has expired: it waits the TTL minus
// waited, plus a slack.
func (e pendingEnv) expireAfter(waited time.Duration) {
	slack := fakeSlack
	if e.advance == nil {
		slack = realSlack
	}
	e.wait(e.ttl() - waited + slack)
}

// since returns a function that reports whether an entry written after
// now with the expiring TTL must still be alive. With a fake clock it
// always is; on real time only while less than the TTL has elapsed, so a
// slow machine never turns into a false failure.
func (e pendingEnv) since() func() bool {
	if e.advance != nil {
		return func() bool { return true }
	}
	begin := time.Now()
	return func() bool { return time.Since(begin) < realTTL }
}

// skipIfSlow skips the rest of a real-time case whose timing premise
// failed.
func (e pendingEnv) skipIfSlow(alive func() bool) {
	e.t.Helper()
	if !alive() {
		e.t.Skip("the machine took longer than the TTL between two calls; skipping the rest of this real-time case")
	}
}

func (e pendingEnv) put(key string, value []byte, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.PutPending(e.t.Context(), key, value, ttl); err != nil {
		e.t.Fatalf("PutPending(%q): got error %v, want nil", key, err)
	}
}

func (e pendingEnv) add(key string, value []byte, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.AddPendingIfAbsent(e.t.Context(), key, value, ttl)
	if err != nil {
		e.t.Fatalf("AddPendingIfAbsent(%q): got error %v, want nil", key, err)
	}
	return ok
}

func (e pendingEnv) incr(key string, ttl time.Duration) (int64, time.Duration) {
	e.t.Helper()
	n, left, err := e.s.IncrPending(e.t.Context(), key, ttl)
	if err != nil {
		e.t.Fatalf("IncrPending(%q): got error %v, want nil", key, err)
	}
	return n, left
}

// wantValue checks that GetPending(key) returns want.
func (e pendingEnv) wantValue(key string, want []byte) {
	e.t.Helper()
	got, err := e.s.GetPending(e.t.Context(), key)
	if err != nil {
		e.t.Errorf("GetPending(%q): got error %v, want value %q", key, err, want)
		return
	}
	if !bytes.Equal(got, want) {
		e.t.Errorf("GetPending(%q): got %q, want %q", key, got, want)
	}
}

// wantMissing checks that GetPending(key) returns store.ErrNotFound.
func (e pendingEnv) wantMissing(key string) {
	e.t.Helper()
	got, err := e.s.GetPending(e.t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("GetPending(%q): got value %q and error %v, want %v", key, got, err, store.ErrNotFound)
	}
}

// wantTakeMissing checks that TakePending(key) returns store.ErrNotFound.
func (e pendingEnv) wantTakeMissing(key string) {
	e.t.Helper()
	got, err := e.s.TakePending(e.t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("TakePending(%q): got value %q and error %v, want %v", key, got, err, store.ErrNotFound)
	}
}

// RunPendingStore runs the store.PendingStore conformance suite. newStore
// returns a fresh, empty store for each subtest and registers any cleanup
// with t.Cleanup.
//
// The suite checks round trips of binary values, replacement, atomic take,
// idempotent delete, put-if-absent, fixed-window counters, expiry through
// the harness's clock, isolation of keys, that stores hand out copies, and
// that TakePending, AddPendingIfAbsent and IncrPending each have exactly
// the promised winners when many goroutines race on one key, that
// GetPending returns a counter as its decimal count, and that every method
// called with a context that has already ended (past its deadline or
// cancelled) returns an error wrapping store.ErrUnavailable and the
// context's error, and changes nothing. When the harness has a Break
// function, the Outage case requires every method, with the backend
// unreachable, to return an error wrapping store.ErrUnavailable within the
// 5 s deadline of its context.
//
// If the store also implements store.RateStore, the Rate cases run too
// (otherwise they are skipped): a burst allowed at once and then refused
// with retryAfter one interval, exact retry times and recovery on the
// harness's clock, refused events that change nothing, independent keys,
// DeletePending resetting a key, idle keys expiring, invalid arguments,
// and exactly burst winners of 20 goroutines racing on one key.
func RunPendingStore(t *testing.T, newStore func(t *testing.T) PendingHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(e pendingEnv)
	}{
		{"RoundTrip", testPendingRoundTrip},
		{"PutReplaces", testPutReplaces},
		{"PutReplacesTTL", testPutReplacesTTL},
		{"Missing", testPendingMissing},
		{"TakeOnce", testTakeOnce},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"AddIfAbsent", testAddIfAbsent},
		{"ValuesAreCopies", testPendingCopies},
		{"KeysIsolated", testKeysIsolated},
		{"PutExpires", testPutExpires},
		{"AddIfAbsentExpires", testAddIfAbsentExpires},
		{"IncrCounts", testIncrCounts},
		{"IncrFixedWindow", testIncrFixedWindow},
		{"ConcurrentTake", testConcurrentTake},
		{"ConcurrentAddIfAbsent", testConcurrentAdd},
		{"ConcurrentIncr", testConcurrentIncr},
		{"CounterIsDecimal", testCounterIsDecimal},
		{"EndedContextIsUnavailable", testPendingEndedContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newStore(t)
			c.run(pendingEnv{t: t, s: h.Store, advance: h.Advance})
		})
	}
	t.Run("Outage", func(t *testing.T) {
		h := newStore(t)
		if h.Break == nil {
			t.Skip("the harness has no Break function: the store has no backend to lose")
		}
		e := pendingEnv{t: t, s: h.Store, advance: h.Advance}
		e.put("k", []byte("v"), longTTL)
		h.Break()
		checkOutage(t, t.Context(), pendingCalls(h.Store, "k"))
	})
	runRateCases(t, newStore)
}

func testPendingRoundTrip(e pendingEnv) {
	large := make([]byte, 64<<10)
	for i := range large {
		large[i] = byte(i * 7)
	}
	values := []struct {
		key   string
		value []byte
	}{
		{"binary", []byte{0, 1, 0, 0xff, 0xfe, 0, 0x80, '\n', 0}},
		{"zeros", make([]byte, 16)},
		{"text", []byte("hello, pending")},
		{"empty", []byte{}},
		{"large", large},
		{"key with spaces:and/колоны", []byte("unicode key")},
	}
	for _, v := range values {
		e.put(v.key, v.value, longTTL)
	}
	for _, v := range values {
		e.wantValue(v.key, v.value)
	}
}

func testPutReplaces(e pendingEnv) {
	e.put("k", []byte("first value, longer"), longTTL)
	e.put("k", []byte("second"), longTTL)
	e.wantValue("k", []byte("second"))
	e.put("k", []byte{}, longTTL)
	e.wantValue("k", []byte{})
}

func testPutReplacesTTL(e pendingEnv) {
	e.put("short-then-long", []byte("old"), e.ttl())
	e.put("short-then-long", []byte("new"), longTTL)
	e.put("long-then-short", []byte("old"), longTTL)
	e.put("long-then-short", []byte("new"), e.ttl())
	e.expireAfter(0)
	e.wantValue("short-then-long", []byte("new"))
	e.wantMissing("long-then-short")
}

func testPendingMissing(e pendingEnv) {
	e.put("present", []byte("v"), longTTL)
	for _, key := range []string{"absent", "presen", "present2", ""} {
		e.wantMissing(key)
		e.wantTakeMissing(key)
	}
	e.wantValue("present", []byte("v"))
}

func testTakeOnce(e pendingEnv) {
	want := []byte{0, 'x', 0}
	e.put("k", want, longTTL)
	got, err := e.s.TakePending(e.t.Context(), "k")
	if err != nil || !bytes.Equal(got, want) {
		e.t.Errorf("first TakePending: got %q, %v; want %q, nil", got, err, want)
	}
	e.wantTakeMissing("k")
	e.wantMissing("k")
	// A taken key is free for AddPendingIfAbsent.
	if !e.add("k", []byte("again"), longTTL) {
		e.t.Errorf("AddPendingIfAbsent after TakePending: got false, want true")
	}
	e.wantValue("k", []byte("again"))
}

func testDeleteIdempotent(e pendingEnv) {
	ctx := e.t.Context()
	if err := e.s.DeletePending(ctx, "never-set"); err != nil {
		e.t.Errorf("DeletePending(missing key): got error %v, want nil", err)
	}
	e.put("k", []byte("v"), longTTL)
	e.put("other", []byte("o"), longTTL)
	for i := range 2 {
		if err := e.s.DeletePending(ctx, "k"); err != nil {
			e.t.Errorf("DeletePending #%d: got error %v, want nil", i+1, err)
		}
		e.wantMissing("k")
	}
	e.wantValue("other", []byte("o"))
	if !e.add("k", []byte("v2"), longTTL) {
		e.t.Errorf("AddPendingIfAbsent after DeletePending: got false, want true")
	}
	n, _ := e.incr("counter", longTTL)
	if err := e.s.DeletePending(ctx, "counter"); err != nil {
		e.t.Errorf("DeletePending(counter): got error %v, want nil", err)
	}
	if n2, _ := e.incr("counter", longTTL); n != 1 || n2 != 1 {
		e.t.Errorf("IncrPending before and after DeletePending: got %d, %d; want 1, 1", n, n2)
	}
}

func testAddIfAbsent(e pendingEnv) {
	if !e.add("k", []byte("first"), longTTL) {
		e.t.Errorf("first AddPendingIfAbsent: got false, want true")
	}
	if e.add("k", []byte("second"), longTTL) {
		e.t.Errorf("second AddPendingIfAbsent: got true, want false")
	}
	e.wantValue("k", []byte("first"))

	e.put("put", []byte("by put"), longTTL)
	if e.add("put", []byte("by add"), longTTL) {
		e.t.Errorf("AddPendingIfAbsent over PutPending's value: got true, want false")
	}
	e.wantValue("put", []byte("by put"))
}

func testPendingCopies(e pendingEnv) {
	ctx := e.t.Context()
	in := []byte("original")
	e.put("put", in, longTTL)
	copy(in, "TAMPERED")
	e.wantValue("put", []byte("original"))

	in = []byte("original")
	e.add("add", in, longTTL)
	copy(in, "TAMPERED")
	e.wantValue("add", []byte("original"))

	got, err := e.s.GetPending(ctx, "put")
	if err != nil {
		e.t.Fatalf("GetPending: got error %v, want nil", err)
	}
	copy(got, "TAMPERED")
	e.wantValue("put", []byte("original"))

	got, err = e.s.TakePending(ctx, "put")
	if err != nil {
		e.t.Fatalf("TakePending: got error %v, want nil", err)
	}
	copy(got, "TAMPERED")
	e.put("put", []byte("original"), longTTL)
	e.wantValue("put", []byte("original"))
}

func testKeysIsolated(e pendingEnv) {
	ctx := e.t.Context()
	keys := []string{"a", "ab", "a:b", "A", "b", "a "}
	for i, k := range keys {
		e.put(k, []byte(fmt.Sprint("value-", i)), longTTL)
	}
	if _, err := e.s.TakePending(ctx, "a"); err != nil {
		e.t.Fatalf("TakePending(a): got error %v, want nil", err)
	}
	if err := e.s.DeletePending(ctx, "b"); err != nil {
		e.t.Fatalf("DeletePending(b): got error %v, want nil", err)
	}
	e.put("ab", []byte("replaced"), longTTL)
	e.wantMissing("a")
	e.wantMissing("b")
	e.wantValue("ab", []byte("replaced"))
	e.wantValue("a:b", []byte("value-2"))
	e.wantValue("A", []byte("value-3"))
	e.wantValue("a ", []byte("value-5"))

	for range 3 {
		e.incr("counter-1", longTTL)
	}
	if n, _ := e.incr("counter-2", longTTL); n != 1 {
		e.t.Errorf("IncrPending(counter-2) after three IncrPending(counter-1): got %d, want 1", n)
	}
	if n, _ := e.incr("counter-1", longTTL); n != 4 {
		e.t.Errorf("fourth IncrPending(counter-1): got %d, want 4", n)
	}
	e.wantMissing("counter")
}

func testPutExpires(e pendingEnv) {
	ttl := e.ttl()
	alive := e.since()
	e.put("k", []byte("v"), ttl)
	e.put("untouched", []byte("v"), ttl)
	e.put("other", []byte("kept"), longTTL)
	e.wait(ttl / 2)
	got, err := e.s.GetPending(e.t.Context(), "k")
	e.skipIfSlow(alive)
	if err != nil || string(got) != "v" {
		e.t.Errorf("GetPending before expiry: got %q, %v; want \"v\", nil", got, err)
	}
	e.expireAfter(ttl / 2)
	// An expired key cannot be taken, even before any read.
	e.wantTakeMissing("untouched")
	e.wantMissing("k")
	e.wantTakeMissing("k")
	if !e.add("k", []byte("fresh"), longTTL) {
		e.t.Errorf("AddPendingIfAbsent on an expired key: got false, want true")
	}
	e.wantValue("k", []byte("fresh"))
	e.wantValue("other", []byte("kept"))
}

func testAddIfAbsentExpires(e pendingEnv) {
	ttl := e.ttl()
	alive := e.since()
	if !e.add("k", []byte("first"), ttl) {
		e.t.Fatalf("first AddPendingIfAbsent: got false, want true")
	}
	e.put("put", []byte("by put"), ttl)
	added := e.add("k", []byte("second"), ttl)
	e.skipIfSlow(alive)
	if added {
		e.t.Errorf("second AddPendingIfAbsent before expiry: got true, want false")
	}
	e.expireAfter(0)
	// No read comes first: AddPendingIfAbsent itself must see the expiry.
	for _, key := range []string{"k", "put"} {
		if !e.add(key, []byte("third"), longTTL) {
			e.t.Errorf("AddPendingIfAbsent(%q) after expiry: got false, want true", key)
		}
		e.wantValue(key, []byte("third"))
	}
}

func testIncrCounts(e pendingEnv) {
	for want := int64(1); want <= 3; want++ {
		n, left := e.incr("k", longTTL)
		if n != want {
			e.t.Errorf("IncrPending #%d: got count %d, want %d", want, n, want)
		}
		if left <= 0 || left > longTTL {
			e.t.Errorf("IncrPending #%d: got ttlLeft %v, want within (0, %v]", want, left, longTTL)
		}
	}
}

func testIncrFixedWindow(e pendingEnv) {
	ttl := e.ttl()
	alive := e.since()
	n, left := e.incr("k", ttl)
	if n != 1 || left <= 0 || left > ttl {
		e.t.Errorf("first IncrPending: got %d, %v; want 1, within (0, %v]", n, left, ttl)
	}
	e.wait(ttl / 2)
	n, left = e.incr("k", ttl)
	n3, _ := e.incr("k", ttl)
	e.skipIfSlow(alive)
	// At least ttl/2 has passed since the window opened; a store that
	// extended the window would report about ttl.
	if maxLeft := ttl - ttl/4; n != 2 || left <= 0 || left > maxLeft {
		e.t.Errorf("IncrPending after %v: got %d, %v; want 2, within (0, %v]", ttl/2, n, left, maxLeft)
	}
	if n3 != 3 {
		e.t.Errorf("third IncrPending: got %d, want 3", n3)
	}
	e.expireAfter(ttl / 2)
	n, left = e.incr("k", ttl)
	if n != 1 || left <= 0 || left > ttl {
		e.t.Errorf("IncrPending after the window: got %d, %v; want 1, within (0, %v]", n, left, ttl)
	}
}

func testConcurrentTake(e pendingEnv) {
	for r := range raceRounds {
		testConcurrentTakeRound(e, fmt.Sprint("race-", r))
	}
}

func testConcurrentTakeRound(e pendingEnv, key string) {
	const n = 20
	want := []byte("the one value")
	e.put(key, want, longTTL)
	vals := make([][]byte, n)
	errs := make([]error, n)
	start(n, func(i int) {
		vals[i], errs[i] = e.s.TakePending(e.t.Context(), key)
	})
	winners := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			winners++
			if !bytes.Equal(vals[i], want) {
				e.t.Errorf("goroutine %d: TakePending(%q): got %q, want %q", i, key, vals[i], want)
			}
		case !errors.Is(errs[i], store.ErrNotFound):
			e.t.Errorf("goroutine %d: TakePending(%q): got error %v, want nil or %v", i, key, errs[i], store.ErrNotFound)
		}
	}
	if winners != 1 {
		e.t.Errorf("TakePending(%q) winners: got %d, want 1", key, winners)
	}
	e.wantMissing(key)
}

func testConcurrentAdd(e pendingEnv) {
	for r := range raceRounds {
		testConcurrentAddRound(e, fmt.Sprint("race-", r))
	}
}

func testConcurrentAddRound(e pendingEnv, key string) {
	const n = 20
	oks := make([]bool, n)
	errs := make([]error, n)
	start(n, func(i int) {
		oks[i], errs[i] = e.s.AddPendingIfAbsent(e.t.Context(), key, []byte(fmt.Sprint("value-", i)), longTTL)
	})
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			e.t.Errorf("goroutine %d: AddPendingIfAbsent(%q): got error %v, want nil", i, key, errs[i])
		case oks[i] && winner >= 0:
			e.t.Errorf("goroutine %d: AddPendingIfAbsent(%q): got true, want false (goroutine %d already added)", i, key, winner)
		case oks[i]:
			winner = i
		}
	}
	if winner < 0 {
		e.t.Fatalf("AddPendingIfAbsent(%q) winners: got 0, want 1", key)
	}
	e.wantValue(key, []byte(fmt.Sprint("value-", winner)))
}

func testConcurrentIncr(e pendingEnv) {
	const n = 50
	counts := make([]int64, n)
	errs := make([]error, n)
	start(n, func(i int) {
		counts[i], _, errs[i] = e.s.IncrPending(e.t.Context(), "k", longTTL)
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("goroutine %d: IncrPending: got error %v, want nil", i, err)
		}
	}
	slices.Sort(counts)
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(counts, want) {
		e.t.Errorf("IncrPending results, sorted: got %v, want 1..%d each once", counts, n)
	}
	if got, _ := e.incr("k", longTTL); got != n+1 {
		e.t.Errorf("IncrPending after the race: got %d, want %d", got, n+1)
	}
}

func testCounterIsDecimal(e pendingEnv) {
	for range 12 {
		e.incr("k", longTTL)
	}
	e.wantValue("k", []byte("12"))
}

func testPendingEndedContext(e pendingEnv) {
	e.put("k", []byte("v"), longTTL)
	checkEndedContext(e.t, e.t.Context(), pendingCalls(e.s, "k"))
	e.wantValue("k", []byte("v"))
	e.wantMissing("k-added")
	e.wantMissing("k-counter")
	if rs, ok := e.s.(store.RateStore); ok {
		// AllowRate with an ended context consumed nothing of a burst of 1.
		if ok, retry, err := rs.AllowRate(e.t.Context(), "k-rate", time.Minute, 1); !ok || err != nil {
			e.t.Errorf("AllowRate after the calls with an ended context: got %v, %v, %v; want true, 0, nil", ok, retry, err)
		}
	}
}

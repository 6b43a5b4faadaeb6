package password_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/internal/password"
)

func TestConcurrencyBound(t *testing.T) {
	const pw = "correct horse battery staple"
	// Slow enough (1 MiB, a few ms under -race) that computations overlap.
	h := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}, 2)
	encoded, err := h.Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				_, err := h.Hash(t.Context(), pw)
				errs <- err
			case 1:
				ok, _, err := h.Verify(t.Context(), pw, encoded)
				if err == nil && !ok {
					err = errors.New("Verify: got ok false, want true")
				}
				errs <- err
			default:
				errs <- h.DummyVerify(t.Context(), pw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	inFlight, peak := h.Stats()
	if inFlight != 0 {
		t.Errorf("got %d in flight after all returned, want 0", inFlight)
	}
	if peak < 1 || peak > 2 {
		t.Errorf("got peak %d, want 1 or 2", peak)
	}
}

func TestBusy(t *testing.T) {
	h := password.NewHasher(cheap, 2)
	encoded, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var releases []func()
	for range 2 {
		release, err := h.HoldSlot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if inFlight, peak := h.Stats(); inFlight != 2 || peak != 2 {
		t.Errorf("got Stats %d, %d with both slots held, want 2, 2", inFlight, peak)
	}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Hash": func() error { _, err := h.Hash(cancelled, "pw"); return err },
		"Verify": func() error {
			ok, needsRehash, err := h.Verify(cancelled, "pw", encoded)
			if ok || needsRehash {
				t.Errorf("Verify: got ok=%v needsRehash=%v, want false false", ok, needsRehash)
			}
			return err
		},
		"DummyVerify": func() error { return h.DummyVerify(cancelled, "pw") },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, password.ErrBusy) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got error %v, want ErrBusy wrapping context.Canceled", name, err)
		}
	}

	// A waiter gets the slot once one is given back.
	done := make(chan error, 1)
	go func() {
		ok, _, err := h.Verify(t.Context(), "pw", encoded)
		if err == nil && !ok {
			err = errors.New("got ok false, want true")
		}
		done <- err
	}()
	releases[0]()
	if err := <-done; err != nil {
		t.Errorf("waiter: %v", err)
	}
	releases[1]()
	if inFlight, peak := h.Stats(); inFlight != 0 || peak != 2 {
		t.Errorf("got Stats %d, %d after release, want 0, 2", inFlight, peak)
	}

	// A free slot is taken even with a done context.
	if _, err := h.Hash(cancelled, "pw"); err != nil {
		t.Errorf("free slot, cancelled ctx: got %v, want nil", err)
	}
}

func TestDefaultMaxConcurrent(t *testing.T) {
	h := password.NewHasher(cheap, 0)
	// GOMAXPROCS slots: holding that many must succeed without waiting.
	n := runtime.GOMAXPROCS(0)
	for range n {
		release, err := h.HoldSlot(t.Context())
		if err != nil {
			t.Fatalf("got %v holding a slot, want nil", err)
		}
		defer release()
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.HoldSlot(cancelled); !errors.Is(err, password.ErrBusy) {
		t.Errorf("slot %d: got %v, want ErrBusy", n+1, err)
	}
}

func TestDummyVerify(t *testing.T) {
	h := password.NewHasher(cheap, 2)
	dummy := h.DummyHash()
	// The dummy has exactly the current params: verifying it is the same
	// work as verifying a real up-to-date hash.
	ok, needsRehash, err := h.Verify(t.Context(), "anything", dummy)
	if err != nil || ok || needsRehash {
		t.Errorf("got ok=%v needsRehash=%v err=%v, want false false nil", ok, needsRehash, err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := h.DummyVerify(t.Context(), "anything"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := h.DummyHash(); got != dummy {
		t.Errorf("got dummy %q after use, want it made once: %q", got, dummy)
	}
	if other := password.NewHasher(cheap, 2).DummyHash(); other == dummy {
		t.Errorf("got the same dummy %q in two hashers, want a random one each", dummy)
	}
	if _, peak := h.Stats(); peak < 1 {
		t.Errorf("got peak %d after DummyVerify, want it to have computed", peak)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// recorder is a reporter that records failures instead of failing a test,
// so that a check can be run against a store that must fail it.
type recorder struct{ failures []string }

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// stubStore implements every store interface; each method returns the
// error answer gives for its context, and zero values.
type stubStore struct {
	answer func(ctx context.Context) error
}

func (s stubStore) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	return store.User{}, s.answer(ctx)
}
func (s stubStore) UserByID(ctx context.Context, _ string) (store.User, error) {
	return store.User{}, s.answer(ctx)
}
func (s stubStore) UserByEmail(ctx context.Context, _ string) (store.User, error) {
	return store.User{}, s.answer(ctx)
}
func (s stubStore) UpdateUser(ctx context.Context, _ string, _ func(*store.User) error) (store.User, error) {
	return store.User{}, s.answer(ctx)
}
func (s stubStore) ListUsers(ctx context.Context, _, _ string, _ int) ([]store.User, error) {
	return nil, s.answer(ctx)
}
func (s stubStore) PutPending(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	return s.answer(ctx)
}
func (s stubStore) AddPendingIfAbsent(ctx context.Context, _ string, _ []byte, _ time.Duration) (bool, error) {
	return false, s.answer(ctx)
}
func (s stubStore) GetPending(ctx context.Context, _ string) ([]byte, error) {
	return nil, s.answer(ctx)
}
func (s stubStore) TakePending(ctx context.Context, _ string) ([]byte, error) {
	return nil, s.answer(ctx)
}
func (s stubStore) DeletePending(ctx context.Context, _ string) error { return s.answer(ctx) }
func (s stubStore) IncrPending(ctx context.Context, _ string, _ time.Duration) (int64, time.Duration, error) {
	return 0, 0, s.answer(ctx)
}
func (s stubStore) AllowRate(ctx context.Context, _ string, _ time.Duration, _ int) (bool, time.Duration, error) {
	return false, 0, s.answer(ctx)
}

var (
	_ store.UserStore    = stubStore{}
	_ store.UserLister   = stubStore{}
	_ store.PendingStore = stubStore{}
	_ store.RateStore    = stubStore{}
)

// errRefused stands for a raw driver error.
var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// Answers of stub stores.
var (
	rawError     = func(context.Context) error { return errRefused }
	wrappedError = func(context.Context) error {
		return fmt.Errorf("backend: %w: %w", store.ErrUnavailable, errRefused)
	}
	ignoresContext = func(context.Context) error { return nil }
	wrapsContext   = func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backend: %w: %w", store.ErrUnavailable, err)
		}
		return nil
	}
	contextWithoutUnavailable = func(ctx context.Context) error { return ctx.Err() }
)

// allCalls returns a call of every method of every store interface of s.
func allCalls(s stubStore) []call {
	return append(userCalls(s, "id", "a@example.test"), pendingCalls(s, "k")...)
}

// wantFailures checks that r recorded exactly one failure per call, each
// naming its method, or none when want is false.
func wantFailures(t *testing.T, r *recorder, calls []call, perCall int, want bool) {
	t.Helper()
	if !want {
		if len(r.failures) != 0 {
			t.Errorf("failures: got %q, want none", r.failures)
		}
		return
	}
	if got, wantN := len(r.failures), perCall*len(calls); got != wantN {
		t.Errorf("failures: got %d %q, want %d (each method's own)", got, r.failures, wantN)
	}
	for _, c := range calls {
		n := 0
		for _, f := range r.failures {
			if strings.HasPrefix(f, c.name+" ") {
				n++
			}
		}
		if n != perCall {
			t.Errorf("failures naming %s: got %d, want %d", c.name, n, perCall)
		}
	}
}

func TestOutageFailsRawErrors(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(context.Context) error
		wantFail bool
	}{
		{"raw driver errors", rawError, true},
		{"no errors", ignoresContext, true},
		{"errors wrapping ErrUnavailable", wrappedError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := allCalls(stubStore{tt.answer})
			r := &recorder{}
			checkOutage(r, t.Context(), calls)
			wantFailures(t, r, calls, 1, tt.wantFail)
		})
	}
}

func TestEndedContextFailsStoresIgnoringIt(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(context.Context) error
		wantFail bool
	}{
		{"ignores the context", ignoresContext, true},
		{"raw driver errors", rawError, true},
		{"ErrUnavailable without the context's error", wrappedError, true},
		{"the context's error without ErrUnavailable", contextWithoutUnavailable, true},
		{"wraps ErrUnavailable and the context's error", wrapsContext, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := allCalls(stubStore{tt.answer})
			r := &recorder{}
			checkEndedContext(r, t.Context(), calls)
			wantFailures(t, r, calls, len(endedContexts), tt.wantFail)
		})
	}
}

// TestOutageUsesADeadline checks that each outage call gets a context with
// a deadline, so that a store waiting for an unreachable backend returns.
func TestOutageUsesADeadline(t *testing.T) {
	var missing []string
	calls := allCalls(stubStore{func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			missing = append(missing, "a call")
		}
		return wrappedError(ctx)
	}})
	r := &recorder{}
	checkOutage(r, t.Context(), calls)
	if len(missing) != 0 || len(r.failures) != 0 {
		t.Errorf("calls without a deadline: got %d (failures %q), want 0", len(missing), r.failures)
	}
}

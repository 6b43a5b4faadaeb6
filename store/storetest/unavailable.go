package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/authsys-go/authsys/store"
)

// reporter is the part of *testing.T the outage and deadline checks use,
// so that the suite's own tests can run them against broken stores and
// record the failures.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// callLimit bounds how long one call may take in the outage and deadline
// cases: calls whose context has ended must return promptly, and calls to
// an unreachable backend within their context's deadline (outageTimeout).
const (
	callLimit     = 15 * time.Second
	outageTimeout = 5 * time.Second
)

// call is one store method called with a given context.
type call struct {
	name string
	do   func(ctx context.Context) error
}

// userCalls returns a call of each UserStore method of s (and of ListUsers
// when s implements store.UserLister), on the user id with email email.
// No call changes anything when it fails.
func userCalls(s store.UserStore, id, email string) []call {
	calls := []call{
		{"CreateUser", func(ctx context.Context) error {
			_, err := s.CreateUser(ctx, minimalUser("created-"+email))
			return err
		}},
		{"UserByID", func(ctx context.Context) error { _, err := s.UserByID(ctx, id); return err }},
		{"UserByEmail", func(ctx context.Context) error { _, err := s.UserByEmail(ctx, email); return err }},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, id, func(u *store.User) error {
				u.TokenVersion++
				return nil
			})
			return err
		}},
	}
	if l, ok := s.(store.UserLister); ok {
		calls = append(calls, call{"ListUsers", func(ctx context.Context) error {
			_, err := l.ListUsers(ctx, "", "", 10)
			return err
		}})
	}
	return calls
}

// pendingCalls returns a call of each PendingStore method of s (and of
// AllowRate when s implements store.RateStore), on the key key.
func pendingCalls(s store.PendingStore, key string) []call {
	calls := []call{
		{"PutPending", func(ctx context.Context) error {
			return s.PutPending(ctx, key, []byte("overwritten"), longTTL)
		}},
		{"AddPendingIfAbsent", func(ctx context.Context) error {
			_, err := s.AddPendingIfAbsent(ctx, key+"-added", []byte("added"), longTTL)
			return err
		}},
		{"GetPending", func(ctx context.Context) error { _, err := s.GetPending(ctx, key); return err }},
		{"TakePending", func(ctx context.Context) error { _, err := s.TakePending(ctx, key); return err }},
		{"DeletePending", func(ctx context.Context) error { return s.DeletePending(ctx, key) }},
		{"IncrPending", func(ctx context.Context) error {
			_, _, err := s.IncrPending(ctx, key+"-counter", longTTL)
			return err
		}},
	}
	if rs, ok := s.(store.RateStore); ok {
		calls = append(calls, call{"AllowRate", func(ctx context.Context) error {
			_, _, err := rs.AllowRate(ctx, key+"-rate", time.Minute, 1)
			return err
		}})
	}
	return calls
}

// run calls c with a context from ctx and returns its error, or reports
// and returns an error of its own when the call does not return within
// callLimit (the goroutine is then left behind).
func (c call) run(r reporter, ctx func() (context.Context, context.CancelFunc)) error {
	r.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := ctx()
		defer cancel()
		done <- c.do(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(callLimit):
		r.Errorf("%s: got no answer within %v, want an error promptly", c.name, callLimit)
		return errors.New("storetest: no answer")
	}
}

// checkOutage calls every method in calls on a store whose backend is
// unreachable and reports each that does not return an error wrapping
// store.ErrUnavailable. Each call gets a context with a deadline, so that
// a store may also wait for the backend until then.
func checkOutage(r reporter, parent context.Context, calls []call) {
	r.Helper()
	withTimeout := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(parent, outageTimeout)
	}
	for _, c := range calls {
		if err := c.run(r, withTimeout); !errors.Is(err, store.ErrUnavailable) {
			r.Errorf("%s with the backend unreachable: got error %v, want one wrapping %v", c.name, err, store.ErrUnavailable)
		}
	}
}

// endedContexts are the contexts that have ended before a call starts: one
// past its deadline, and one cancelled.
var endedContexts = []struct {
	name string
	ctx  func(parent context.Context) (context.Context, context.CancelFunc)
	err  error
}{
	{"past its deadline", func(parent context.Context) (context.Context, context.CancelFunc) {
		return context.WithDeadline(parent, time.Now().Add(-time.Second))
	}, context.DeadlineExceeded},
	{"cancelled", func(parent context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(parent)
		cancel()
		return ctx, cancel
	}, context.Canceled},
}

// checkEndedContext calls every method in calls with a context that has
// already ended and reports each that does not return promptly an error
// wrapping both store.ErrUnavailable and the context's error.
func checkEndedContext(r reporter, parent context.Context, calls []call) {
	r.Helper()
	for _, ended := range endedContexts {
		ctx := func() (context.Context, context.CancelFunc) { return ended.ctx(parent) }
		for _, c := range calls {
			err := c.run(r, ctx)
			if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, ended.err) {
				r.Errorf("%s with a context %s: got error %v, want one wrapping %v and %v",
					c.name, ended.name, err, store.ErrUnavailable, ended.err)
			}
		}
	}
}

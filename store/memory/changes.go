package memory

import (
	"context"
	"sync"

	"github.com/authsys-go/authsys/store"
)

var _ store.ChangeNotifier = (*Store)(nil)

// DefaultChangeBuffer is how many changes a subscription queues, by
// default, while its callbacks are busy (see WithChangeBuffer).
const DefaultChangeBuffer = 4096

// WithChangeBuffer sets how many announced changes each subscription
// (store.ChangeNotifier.SubscribeChanges) may hold queued while its
// callbacks are busy. NotifyChange never waits for a subscriber: when a
// subscription's queue is full, the queue is dropped and the subscription
// calls ready(false), then ready(true), then goes on with the changes
// announced after the drop, so that a slow subscriber empties its cache
// instead of slowing every publisher down. n less than 1 counts as 1. The
// default is DefaultChangeBuffer.
func WithChangeBuffer(n int) Option {
	return func(s *Store) { s.changes.limit = max(n, 1) }
}

// changeHub is the Store's in-process channel of changes.
type changeHub struct {
	limit int // a subscription's queue capacity

	mu   sync.Mutex
	subs map[*changeSub]struct{}
}

// changeSub is one subscription: the changes announced and not yet
// delivered, and whether some were dropped.
type changeSub struct {
	mu       sync.Mutex
	queue    []store.Change
	overflow bool
	wake     chan struct{} // has a value when queue or overflow is new
}

// push queues c, or drops the queue if it is full.
func (sub *changeSub) push(c store.Change, limit int) {
	sub.mu.Lock()
	if len(sub.queue) >= limit {
		sub.queue, sub.overflow = nil, true
	} else {
		sub.queue = append(sub.queue, c)
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// take returns and clears what push left.
func (sub *changeSub) take() ([]store.Change, bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	q, over := sub.queue, sub.overflow
	sub.queue, sub.overflow = nil, false
	return q, over
}

// NotifyChange announces c to every subscription of the Store (every Auth
// sharing it), in the order NotifyChange calls return. It never blocks on
// a subscriber: it only queues c (see WithChangeBuffer). It fails only
// when ctx has ended, with an error wrapping store.ErrUnavailable and
// ctx's error. The Store also announces its own writes of users and
// sessions (UpdateUser, RevokeSession, RevokeUserSessions), as
// PostgreSQL's triggers do, so that a change made on the Store directly (a
// test, a tool) reaches every Auth that shares it; the library's own
// announcements of the same changes are duplicates, which cost nothing
// but an eviction.
func (s *Store) NotifyChange(ctx context.Context, c store.Change) error {
	if err := ended(ctx, "NotifyChange"); err != nil {
		return err
	}
	s.announce(c)
	return nil
}

// announce queues c for every subscriber.
func (s *Store) announce(c store.Change) {
	h := &s.changes
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.push(c, h.limit)
	}
}

// SubscribeChanges delivers the changes announced on the Store from now
// on, in their order, until ctx is done, from a goroutine of its own,
// which ends soon after. The subscription is confirmed at once: its first
// callback is ready(true). It calls ready(false) only when its queue
// overflowed (see WithChangeBuffer), immediately followed by ready(true).
// A ctx that has already ended gives an error wrapping
// store.ErrUnavailable and ctx's error, and no subscription.
func (s *Store) SubscribeChanges(ctx context.Context, changed func(store.Change), ready func(bool)) error {
	if err := ended(ctx, "SubscribeChanges"); err != nil {
		return err
	}
	sub := &changeSub{wake: make(chan struct{}, 1)}
	h := &s.changes
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			delete(h.subs, sub)
			h.mu.Unlock()
		}()
		if ctx.Err() == nil {
			ready(true)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
			}
			for {
				q, over := sub.take()
				if len(q) == 0 && !over {
					break
				}
				if over {
					// Changes were dropped: the subscriber must not trust
					// what it cached.
					ready(false)
					if ctx.Err() != nil {
						return
					}
					ready(true)
				}
				for _, c := range q {
					if ctx.Err() != nil {
						return
					}
					changed(c)
				}
			}
		}
	}()
	return nil
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store"
)

var _ store.ChangeNotifier = (*Store)(nil)

// The change channel (store.ChangeNotifier) is the Redis pub/sub channel
// <prefix>changes. A change is one PUBLISH whose payload is "u:<user id>"
// (store.ChangeUser) or "s:<session id>" (store.ChangeSession). On a Redis
// Cluster a plain PUBLISH reaches every subscriber of every node (the nodes
// forward it on their bus), so the channel's name needs no hash tag; both
// the subscription and every PUBLISH go to the master of the channel's
// slot (as its key), so that the changes one process announces arrive in
// the order it announced them, and no message crosses the bus on its way
// to this package's subscribers.

// DefaultHealthCheck is how long a change subscription may stay silent
// before it sends a PING, and how long it then waits for the answer before
// it takes the connection for dead.
const DefaultHealthCheck = 500 * time.Millisecond

// Reconnection delays of a change subscription after a failure: the first
// retry is immediate, later ones wait from minBackoff, doubling up to
// maxBackoff; a confirmed subscription starts the series again.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// WithHealthCheck sets how long a change subscription (SubscribeChanges)
// may stay silent before it sends a PING, and how long it waits for the
// PONG before it takes the connection for dead, calls ready(false) and
// reconnects. A connection closed by the server or the network is noticed
// at once; one that dies silently (a partition, a host gone) within twice
// d. The default is DefaultHealthCheck; d <= 0 keeps it.
func WithHealthCheck(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.healthCheck = d
		}
	}
}

// changesChannel returns the pub/sub channel of changes.
func (s *Store) changesChannel() string { return s.prefix + "changes" }

// encodeChange returns the payload announcing c.
func encodeChange(c store.Change) (string, error) {
	switch c.Kind {
	case store.ChangeUser:
		return "u:" + c.ID, nil
	case store.ChangeSession:
		return "s:" + c.ID, nil
	}
	return "", fmt.Errorf("redis: notify change: unknown kind %q", c.Kind)
}

// decodeChange is the inverse of encodeChange.
func decodeChange(payload string) (store.Change, bool) {
	kind, id, ok := strings.Cut(payload, ":")
	if !ok {
		return store.Change{}, false
	}
	switch kind {
	case "u":
		return store.Change{Kind: store.ChangeUser, ID: id}, true
	case "s":
		return store.Change{Kind: store.ChangeSession, ID: id}, true
	}
	return store.Change{}, false
}

// NotifyChange announces c to every subscriber of the Store's change
// channel, in any process sharing the Redis server or cluster (and
// prefix): one PUBLISH. An unknown c.Kind is an error (not wrapping
// store.ErrUnavailable) and publishes nothing.
func (s *Store) NotifyChange(ctx context.Context, c store.Change) error {
	payload, err := encodeChange(c)
	if err != nil {
		return err
	}
	_, err = do(ctx, s, func(ctx context.Context) (int64, error) {
		// go-redis sends a plain PUBLISH to any node of a cluster; the
		// channel as its key sends it to the master of the channel's slot,
		// where every subscription of this package listens, so that the
		// changes one process announces arrive in order.
		cmd := goredis.NewIntCmd(ctx, "publish", s.changesChannel(), payload)
		cmd.SetFirstKeyPos(1)
		_ = s.client.Process(ctx, cmd)
		return cmd.Result()
	})
	return wrap("notify change", err)
}

// SubscribeChanges subscribes to the Store's change channel (SUBSCRIBE on
// a connection of its own) and delivers every change announced from then
// on to changed, in a goroutine of its own, until ctx is done; it returns
// at once (nil, or an error for a nil callback). It calls ready(true) when
// the server confirms the subscription, and ready(false) as soon as the
// connection fails: closed or broken, or silent past the health check
// (see WithHealthCheck). It then reconnects, at once and then with a
// growing delay, and calls ready(true) when the new subscription is
// confirmed. Callbacks are called one at a time, from that goroutine,
// which stops calling them as soon as it sees ctx done (it does not call
// ready(false) then), closes its connection and ends. Payloads that are
// not changes are ignored.
func (s *Store) SubscribeChanges(ctx context.Context, changed func(store.Change), ready func(bool)) error {
	if changed == nil || ready == nil {
		return errors.New("redis: subscribe changes: nil callback")
	}
	go s.subscribeLoop(ctx, changed, ready)
	return nil
}

// subscribeLoop runs subscriptions one after the other until ctx is done.
func (s *Store) subscribeLoop(ctx context.Context, changed func(store.Change), ready func(bool)) {
	var backoff time.Duration
	for ctx.Err() == nil {
		confirmed := s.subscribeOnce(ctx, changed, ready)
		if ctx.Err() != nil {
			return
		}
		if confirmed {
			ready(false)
			backoff = 0
			continue // reconnect at once
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// subscribeOnce subscribes on a new connection and receives until the
// connection fails or ctx is done, then closes it. It reports whether it
// called ready(true), so that the caller owes a ready(false).
func (s *Store) subscribeOnce(ctx context.Context, changed func(store.Change), ready func(bool)) (confirmed bool) {
	ps := s.client.Subscribe(ctx) // no channel yet: no I/O
	// Closing the PubSub ends a Receive blocked on it: end at once when
	// ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	channel := s.changesChannel()
	if err := ps.Subscribe(ctx, channel); err != nil {
		return false
	}
	pinged := false
	for {
		// The read waits one health check at most. On a broken connection
		// go-redis redials before it returns the error: rctx bounds that
		// dial too, so that ready(false) never waits for a slow one.
		rctx, cancel := context.WithTimeout(ctx, 2*s.healthCheck)
		msg, err := ps.ReceiveTimeout(rctx, s.healthCheck)
		cancel()
		if ctx.Err() != nil {
			return confirmed
		}
		if err != nil {
			if !timeout(err) || pinged {
				return confirmed
			}
			// Silent for a whole interval: ask the server, and take the
			// connection for dead if the answer does not come within
			// the next.
			if err := ps.Ping(ctx); err != nil {
				return confirmed
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && m.Channel == channel && !confirmed && ctx.Err() == nil {
				confirmed = true
				ready(true)
			}
		case *goredis.Message:
			if c, ok := decodeChange(m.Payload); ok && m.Channel == channel && ctx.Err() == nil {
				changed(c)
			}
		case *goredis.Pong:
		}
	}
}

// timeout reports whether err is a network timeout: the health check's
// deadline passing without a message.
func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

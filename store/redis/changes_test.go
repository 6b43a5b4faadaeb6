package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/redis"
	"github.com/authsys-go/authsys/store/storetest"
)

// changeWait bounds every wait of these tests: a watchdog against a hang,
// not a speed check.
const changeWait = 10 * time.Second

// clientName returns a client name unique to this test run, so that the
// tests kill only their own connections.
func clientName() string { return "authsys_test_" + rand.Text() }

// forEachNode runs fn on the server of a single-server client, or on
// every master of a cluster client.
func forEachNode(ctx context.Context, c goredis.UniversalClient, fn func(ctx context.Context, node goredis.Cmdable) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return fn(ctx, node) })
	}
	return fn(ctx, c)
}

// namedClients returns the IDs of the connections named name (CLIENT LIST),
// by node address; with pubsub only those subscribed to a channel.
func namedClients(t *testing.T, admin goredis.UniversalClient, name string, pubsub bool) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	out := map[string][]string{}
	err := forEachNode(t.Context(), admin, func(ctx context.Context, node goredis.Cmdable) error {
		list, err := node.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		addr := node.(*goredis.Client).Options().Addr
		for line := range strings.Lines(list) {
			f := map[string]string{}
			for kv := range strings.FieldsSeq(line) {
				k, v, _ := strings.Cut(kv, "=")
				f[k] = v
			}
			if f["name"] != name || (pubsub && (f["sub"] == "" || f["sub"] == "0")) {
				continue
			}
			mu.Lock()
			out[addr] = append(out[addr], f["id"])
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	return out
}

// killClients kills the connections named name (CLIENT KILL ID, on the
// node that holds each), with pubsub only those subscribed to a channel,
// and returns how many it killed.
func killClients(t *testing.T, admin goredis.UniversalClient, name string, pubsub bool) int {
	t.Helper()
	ids := namedClients(t, admin, name, pubsub)
	var killed atomic.Int64
	err := forEachNode(t.Context(), admin, func(ctx context.Context, node goredis.Cmdable) error {
		for _, id := range ids[node.(*goredis.Client).Options().Addr] {
			n, err := node.ClientKillByFilter(ctx, "ID", id).Result()
			if err != nil {
				return err
			}
			killed.Add(n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	return int(killed.Load())
}

func TestChangeNotifierConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		admin := b.client(t, true)
		storetest.RunChangeNotifierHarness(t, func(t *testing.T) storetest.ChangeNotifierHarness {
			prefix := testPrefix(t, admin)
			nameB := clientName()
			a := redis.New(b.client(t, true), redis.WithPrefix(prefix))
			bs := redis.New(b.named(t, nameB), redis.WithPrefix(prefix))
			return storetest.ChangeNotifierHarness{
				A: a,
				B: bs,
				Break: func() {
					if killClients(t, admin, nameB, true) == 0 {
						t.Errorf("Break: no subscribed connection named %s to kill", nameB)
					}
				},
			}
		})
	})
}

// recorder records a subscription's callbacks in order.
type recorder struct {
	mu     sync.Mutex
	events []string // "ready(true)", "ready(false)" or the payload form
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) changed(c store.Change) { r.add(c.Kind + " " + c.ID) }

func (r *recorder) ready(ok bool) {
	if ok {
		r.add("ready(true)")
	} else {
		r.add("ready(false)")
	}
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// wait waits until the event ev is recorded at index from or after, and
// returns its index; it fails the test after changeWait.
func (r *recorder) wait(t *testing.T, ev string, from int) int {
	t.Helper()
	deadline := time.After(changeWait)
	for {
		evs := r.snapshot()
		for i := from; i < len(evs); i++ {
			if evs[i] == ev {
				return i
			}
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no %q within %v; events from %d: %q", ev, changeWait, from, evs[min(from, len(evs)):])
		}
	}
}

// subscribe subscribes s with a new recorder until the test ends or the
// returned cancel is called.
func subscribe(t *testing.T, s *redis.Store) (*recorder, context.CancelFunc) {
	t.Helper()
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.SubscribeChanges(ctx, r.changed, r.ready); err != nil {
		t.Fatalf("SubscribeChanges: %v", err)
	}
	return r, cancel
}

func notify(t *testing.T, s *redis.Store, kind, id string) {
	t.Helper()
	if err := s.NotifyChange(t.Context(), store.Change{Kind: kind, ID: id}); err != nil {
		t.Fatalf("NotifyChange(%s %q): %v", kind, id, err)
	}
}

// TestSubscribeChangesKilledConnection walks one subscription through the
// life the brief asks of it, on two stores (two instances) sharing a
// prefix: confirmed before delivery, delivery both ways, a killed
// connection (ready(false), then ready(true) on a new connection and the
// changes announced after it), and the end of its goroutine and
// connection when its context is cancelled.
func TestSubscribeChangesKilledConnection(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		admin := b.client(t, true)
		prefix := testPrefix(t, admin)
		nameA, nameB := clientName(), clientName()
		sa := redis.New(b.named(t, nameA), redis.WithPrefix(prefix))
		sb := redis.New(b.named(t, nameB), redis.WithPrefix(prefix))

		ra, _ := subscribe(t, sa)
		rb, cancelB := subscribe(t, sb)
		atA, atB := ra.wait(t, "ready(true)", 0), rb.wait(t, "ready(true)", 0)
		if got := rb.snapshot()[0]; got != "ready(true)" {
			t.Fatalf("first callback on B: got %q, want ready(true)", got)
		}
		notify(t, sa, store.ChangeUser, "from-a")
		notify(t, sb, store.ChangeSession, "from-b")
		for _, r := range []*recorder{ra, rb} {
			at := atA
			if r == rb {
				at = atB
			}
			r.wait(t, "user from-a", at)
			r.wait(t, "session from-b", at)
		}

		// Kill B's subscribed connection only: A's and B's command
		// connections live on.
		if n := killClients(t, admin, nameB, true); n != 1 {
			t.Fatalf("killed %d subscribed connections named %s, want 1", n, nameB)
		}
		lost := rb.wait(t, "ready(false)", atB+1)
		back := rb.wait(t, "ready(true)", lost+1)
		notify(t, sa, store.ChangeUser, "after-reconnect")
		rb.wait(t, "user after-reconnect", back)
		if evs := ra.snapshot(); strings.Contains(strings.Join(evs, ","), "ready(false)") {
			t.Errorf("A's subscription: got %q, want it untouched by the kill of B's", evs)
		}

		// Cancelling B's context closes its subscribed connection (so its
		// goroutine has returned from the server) and stops its callbacks.
		cancelB()
		deadline := time.Now().Add(changeWait)
		for len(namedClients(t, admin, nameB, true)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("B's subscribed connection still open %v after its context was cancelled", changeWait)
			}
			time.Sleep(20 * time.Millisecond)
		}
		settled := len(rb.snapshot())
		notify(t, sa, store.ChangeUser, "after-cancel")
		ra.wait(t, "user after-cancel", atA)
		time.Sleep(100 * time.Millisecond)
		if evs := rb.snapshot(); len(evs) > settled {
			t.Errorf("B after cancel: got %q, want no callback", evs[settled:])
		}
	})
}

// freezer is a TCP proxy to a Redis server that can stop forwarding
// without closing anything, as a network partition does.
type freezer struct {
	addr   string
	frozen atomic.Bool
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	f := &freezer{addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			for f.frozen.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			n, err := src.Read(buf)
			for f.frozen.Load() { // hold what was read, too
				time.Sleep(5 * time.Millisecond)
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					_ = dst.Close()
				}
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Go(func() { pipe(up, c) })
			wg.Go(func() { pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		f.frozen.Store(false)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return f
}

// TestSubscribeChangesSilentConnection checks the health check: a
// connection that stops answering without being closed (a partition) is
// taken for dead, ready(false), within a few health-check intervals, and
// the subscription comes back once the network does. Without the health
// check the subscription would wait on the silent connection for ever.
func TestSubscribeChangesSilentConnection(t *testing.T) {
	o := redisOptions(t)
	f := newFreezer(t, o.Addr)
	o.Addr = f.addr
	o.ContextTimeoutEnabled = true
	o.DialTimeout = time.Second
	c := goredis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	admin := newClient(t, true)
	prefix := testPrefix(t, admin)
	const interval = 100 * time.Millisecond
	s := redis.New(c, redis.WithPrefix(prefix), redis.WithHealthCheck(interval))
	direct := redis.New(admin, redis.WithPrefix(prefix))

	r, _ := subscribe(t, s)
	at := r.wait(t, "ready(true)", 0)
	notify(t, direct, store.ChangeUser, "before")
	r.wait(t, "user before", at)

	f.frozen.Store(true)
	frozeAt := time.Now()
	lost := r.wait(t, "ready(false)", at+1)
	if took := time.Since(frozeAt); took > 20*interval {
		t.Errorf("ready(false) came %v after the connection went silent, want within a few health checks of %v", took, interval)
	}
	f.frozen.Store(false)
	back := r.wait(t, "ready(true)", lost+1)
	notify(t, direct, store.ChangeSession, "after")
	r.wait(t, "session after", back)
}

// TestChangePayload looks behind NotifyChange: one PUBLISH on
// <prefix>changes of "u:<id>" or "s:<id>"; payloads that are not changes
// are ignored by subscribers; an unknown kind is refused.
func TestChangePayload(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c := b.client(t, true)
		prefix := testPrefix(t, c)
		s := redis.New(c, redis.WithPrefix(prefix))
		ctx := t.Context()

		raw := c.Subscribe(ctx, prefix+"changes")
		t.Cleanup(func() { _ = raw.Close() })
		if _, err := raw.Receive(ctx); err != nil { // the confirmation
			t.Fatalf("SUBSCRIBE: %v", err)
		}
		r, _ := subscribe(t, s)
		at := r.wait(t, "ready(true)", 0)

		notify(t, s, store.ChangeUser, "u1")
		notify(t, s, store.ChangeSession, "s:1")
		for _, want := range []string{"u:u1", "s:s:1"} {
			m, err := raw.ReceiveMessage(ctx)
			if err != nil || m.Payload != want {
				t.Fatalf("message: got %v, %v; want payload %q", m, err, want)
			}
		}
		r.wait(t, "user u1", at)
		r.wait(t, "session s:1", at)

		for _, junk := range []string{"", "x", "x:1", "user:1"} {
			if err := c.Publish(ctx, prefix+"changes", junk).Err(); err != nil {
				t.Fatalf("PUBLISH: %v", err)
			}
		}
		notify(t, s, store.ChangeUser, "last")
		last := r.wait(t, "user last", at)
		if evs := r.snapshot(); last != at+3 {
			t.Errorf("events: got %q, want the junk payloads ignored", evs[at:])
		}

		err := s.NotifyChange(ctx, store.Change{Kind: "group", ID: "g"})
		if err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("NotifyChange of an unknown kind: got %v, want a plain error", err)
		}
	})
}

func TestChangeNotifierErrors(t *testing.T) {
	s, _, _ := newStore(t, single)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.NotifyChange(ctx, store.Change{Kind: store.ChangeUser, ID: "u"})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("NotifyChange with a cancelled context: got %v, want ErrUnavailable and context.Canceled", err)
	}
	if err := s.SubscribeChanges(t.Context(), nil, func(bool) {}); err == nil {
		t.Error("SubscribeChanges with a nil changed: got nil error, want one")
	}

	// A server that cannot be reached: never ready, no change, and the
	// goroutine ends with its context.
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	dead := redis.New(c)
	r, cancelSub := subscribe(t, dead)
	if err := dead.NotifyChange(t.Context(), store.Change{Kind: store.ChangeUser, ID: "u"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("NotifyChange on an unreachable server: got %v, want ErrUnavailable", err)
	}
	time.Sleep(300 * time.Millisecond)
	cancelSub()
	if evs := r.snapshot(); len(evs) != 0 {
		t.Errorf("callbacks without a server: got %q, want none", evs)
	}
}

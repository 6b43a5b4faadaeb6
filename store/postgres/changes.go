package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authsys-go/authsys/store"
)

var _ store.ChangeNotifier = (*Store)(nil)

// The channel of changes (store.ChangeNotifier) is PostgreSQL's LISTEN and
// NOTIFY on the channel ChangeChannel names. A notification's payload is
// "u:" (store.ChangeUser) or "s:" (store.ChangeSession) followed by the
// ID; the triggers of migrations/0004_change_triggers.sql send the same.

const (
	// changePrefix begins every channel name.
	changePrefix = "authsys_changes_"
	// maxIdentifier is the longest identifier PostgreSQL keeps (NAMEDATALEN-1).
	maxIdentifier = 63
	// maxChangePayload is the longest payload NotifyChange sends; the
	// server refuses payloads of 8000 bytes or more.
	maxChangePayload = 7900
)

// Reconnection and liveness of a subscription's connection.
const (
	// listenBackoffMin and listenBackoffMax bound the wait between two
	// attempts to reconnect: it starts at the first and doubles up to the
	// second, with up to a quarter more at random so that instances do not
	// all come back at once.
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 2 * time.Second
	// listenHeartbeat is how long a subscription waits for a notification
	// before checking its connection with a round trip, which must answer
	// within listenHeartbeatTimeout: a connection that died silently (a
	// network partition) is noticed within their sum.
	listenHeartbeat        = time.Second
	listenHeartbeatTimeout = time.Second
	// closeTimeout bounds the goodbye on a subscription's connection.
	closeTimeout = time.Second
)

// WithListenConn sets how SubscribeChanges opens the connection it
// listens on: connect must return a new connection, which the
// subscription owns and closes. It is needed when the DB given to New is
// not a *pgxpool.Pool; with a pool, the default acquires a connection from
// it and takes it out of the pool for good (pgxpool.Conn.Hijack), so that
// the pool's connection settings and hooks apply and the pool never hands
// the listening connection to anyone else or recycles it.
func WithListenConn(connect func(ctx context.Context) (*pgx.Conn, error)) Option {
	return func(s *Store) { s.listenConn = connect }
}

// ChangeChannel returns the name of the PostgreSQL channel on which the
// Store announces and hears changes: "authsys_changes_" followed by the
// schema name, or, when that is longer than the 63 bytes of an
// identifier, "authsys_changes_", the first 30 bytes of the schema name,
// "_" and the first 16 hex digits of the SHA-256 of the schema name. The
// triggers that migration 0004 adds compute the same name. Stores on
// different schemas have different channels.
func (s *Store) ChangeChannel() string { return changeChannel(s.schema) }

// changeChannel returns the channel of changes of schema.
func changeChannel(schema string) string {
	if name := changePrefix + schema; len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return changePrefix + schema[:30] + "_" + hex.EncodeToString(sum[:8])
}

// changePayload returns the payload announcing c.
func changePayload(c store.Change) (string, error) {
	var p string
	switch c.Kind {
	case store.ChangeUser:
		p = "u:" + c.ID
	case store.ChangeSession:
		p = "s:" + c.ID
	default:
		return "", fmt.Errorf("postgres: NotifyChange: unknown kind %q", c.Kind)
	}
	if len(p) > maxChangePayload {
		return "", fmt.Errorf("postgres: NotifyChange: the ID is %d bytes long, more than a notification carries (%d)", len(c.ID), maxChangePayload-2)
	}
	return p, nil
}

// parseChange returns the change a payload announces, and false for a
// payload that announces none (sent on the channel by someone else).
func parseChange(payload string) (store.Change, bool) {
	switch {
	case strings.HasPrefix(payload, "u:"):
		return store.Change{Kind: store.ChangeUser, ID: payload[2:]}, true
	case strings.HasPrefix(payload, "s:"):
		return store.Change{Kind: store.ChangeSession, ID: payload[2:]}, true
	}
	return store.Change{}, false
}

// NotifyChange announces c on the Store's channel (ChangeChannel) with
// SELECT pg_notify(channel, payload), on a connection of the DB: every
// subscription of every Store on the schema hears it, in any process. An
// ID that does not fit a notification (over 7,898 bytes), or that
// PostgreSQL refuses in text (a NUL byte, invalid UTF-8 in a UTF-8
// database), gives an error, as does a Kind other than store.ChangeUser
// and store.ChangeSession; an unreachable database gives an error
// wrapping store.ErrUnavailable.
//
// NotifyChange always notifies, although the triggers of migration 0004
// already announce every UPDATE and DELETE of users and sessions, those
// made through the Store included, when their transaction commits: a
// change made through the Store is then heard twice, which costs a
// subscriber one more cache eviction and nothing else, while skipping the
// call would leave unannounced any change the library makes elsewhere
// than in these two tables.
func (s *Store) NotifyChange(ctx context.Context, c store.Change) error {
	if s.err != nil {
		return s.err
	}
	payload, err := changePayload(c)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: NotifyChange: %w: %w", store.ErrUnavailable, err)
	}
	if _, err := s.db.Exec(ctx, "SELECT pg_notify($1, $2)", s.ChangeChannel(), payload); err != nil {
		return s.fail(ctx, "NotifyChange", err)
	}
	return nil
}

// SubscribeChanges listens on the Store's channel (ChangeChannel) on a
// connection of its own, which no pool hands out or recycles (see
// WithListenConn), from a goroutine of its own, until ctx is done; then
// it closes the connection and its goroutine ends. It calls ready(true)
// once LISTEN has succeeded, delivers each notification in the order the
// server sends them (the order their transactions committed), and ignores
// payloads that announce no change. When the connection fails (a killed
// backend, a restarted server, or no answer to the round trip it makes
// after 1 s without a notification, which must answer within 1 s), it
// calls ready(false), reconnects
// after 50 ms, doubling the wait up to 2 s while it fails, LISTENs again
// and calls ready(true). ready is called only when the state changes, and
// never with false before the first true.
//
// It returns an error, and subscribes nothing, when the Store is
// misconfigured, when ctx has already ended (wrapping store.ErrUnavailable
// and ctx's error), or when the DB is not a *pgxpool.Pool and WithListenConn
// was not given.
func (s *Store) SubscribeChanges(ctx context.Context, changed func(store.Change), ready func(bool)) error {
	if s.err != nil {
		return s.err
	}
	connect := s.listenConn
	if connect == nil {
		pool, ok := s.db.(interface {
			Acquire(ctx context.Context) (*pgxpool.Conn, error)
		})
		if !ok {
			return errors.New("postgres: SubscribeChanges: the DB is not a *pgxpool.Pool: pass WithListenConn to New")
		}
		connect = func(ctx context.Context) (*pgx.Conn, error) {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			return c.Hijack(), nil
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: SubscribeChanges: %w: %w", store.ErrUnavailable, err)
	}
	l := &listener{
		channel: s.ChangeChannel(),
		connect: connect,
		changed: changed,
		ready:   ready,
	}
	go l.run(ctx)
	return nil
}

// listener is one subscription's goroutine state.
type listener struct {
	channel string
	connect func(ctx context.Context) (*pgx.Conn, error)
	changed func(store.Change)
	ready   func(bool)
	isReady bool
	backoff time.Duration
}

// setReady calls ready(ok) when the state changes.
func (l *listener) setReady(ok bool) {
	if ok != l.isReady {
		l.isReady = ok
		l.ready(ok)
	}
}

func (l *listener) run(ctx context.Context) {
	l.backoff = listenBackoffMin
	for {
		l.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		l.setReady(false)
		wait := l.backoff + rand.N(l.backoff/4+1)
		l.backoff = min(2*l.backoff, listenBackoffMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx is done, and returns the error that ended it.
func (l *listener) listenOnce(ctx context.Context) error {
	conn, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Changes may be missed from now on: say so before the goodbye,
		// which may take up to closeTimeout on a dead connection.
		if ctx.Err() == nil {
			l.setReady(false)
		}
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx) // the connection is done with either way
	}()
	listen := "LISTEN " + pgx.Identifier{l.channel}.Sanitize()
	if _, err := conn.Exec(ctx, listen); err != nil {
		return err
	}
	l.backoff = listenBackoffMin
	l.setReady(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil && n.Channel == l.channel && ctx.Err() == nil {
			if c, ok := parseChange(n.Payload); ok {
				l.changed(c)
			}
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil && !conn.IsClosed():
			// Quiet for a while: check that the connection still answers.
			// LISTEN again is a no-op that also keeps the statement
			// pg_stat_activity shows for the connection.
			hctx, cancel := context.WithTimeout(ctx, listenHeartbeatTimeout)
			_, err := conn.Exec(hctx, listen)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

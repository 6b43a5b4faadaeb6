package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/store"
)

// Rate is N events per Per. The zero Rate disables a limit.
type Rate struct {
	// N is the number of events allowed at once (the burst), and per Per
	// on average.
	N int
	// Per is the period over which N events are allowed; one event of
	// budget comes back every Per/N (with the fixed-window fallback, the
	// length of a window).
	Per time.Duration
}

// day is the period of the "d" and "day" unit words.
const day = 24 * time.Hour

// units maps the unit words of ParseRate to their periods.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": day, "day": day,
}

// ParseRate parses a rate written N/period, such as "10/min", "5/hour",
// "100/day", "3/s", "20/sec" or "10/5m". N is a positive decimal integer.
// The period is a unit word (s, sec, second, m, min, minute, h, hour, d,
// day), optionally preceded by a positive integer ("2d", "15min"), or a
// positive Go duration ("5m", "1h30m", "500ms"). The empty string yields the
// zero Rate, which disables the limit. Any other string is an error naming
// it.
func ParseRate(s string) (Rate, error) {
	if s == "" {
		return Rate{}, nil
	}
	invalid := fmt.Errorf(`ratelimit: invalid rate %q: want N/period, such as "10/min", "5/hour" or "10/5m"`, s)
	count, period, ok := strings.Cut(s, "/")
	if !ok || !digits(count) {
		return Rate{}, invalid
	}
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return Rate{}, invalid
	}
	per, ok := parsePeriod(period)
	if !ok {
		return Rate{}, invalid
	}
	return Rate{N: n, Per: per}, nil
}

// parsePeriod parses the period of a rate and reports whether it is valid
// and positive.
func parsePeriod(s string) (time.Duration, bool) {
	if d, ok := units[s]; ok {
		return d, true
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
		if unit, ok := units[s[i:]]; ok {
			k, err := strconv.ParseInt(s[:i], 10, 64)
			if err != nil || k <= 0 || k > math.MaxInt64/int64(unit) {
				return 0, false
			}
			return time.Duration(k) * unit, true
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

// digits reports whether s is a non-empty string of ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String returns r in the form ParseRate reads, with the shortest common
// unit word ("10/min", "5/hour", "100/day", "3/s") or else a Go duration
// ("10/5m0s"). The zero Rate is "".
func (r Rate) String() string {
	if r.Zero() {
		return ""
	}
	var per string
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "min"
	case time.Hour:
		per = "hour"
	case day:
		per = "day"
	default:
		per = r.Per.String()
	}
	return strconv.Itoa(r.N) + "/" + per
}

// Zero reports whether r is the zero Rate, which disables a limit.
func (r Rate) Zero() bool {
	return r == Rate{}
}

// Limiter enforces rates on a store.PendingStore, so that every Limiter
// (in any process) using the same store and prefix shares each key's
// budget.
//
// When the store implements store.RateStore (every store of this module
// does), a rate N/Per is a generic cell rate algorithm (GCRA) limit with
// emission interval T = Per/N (rounded up to the nanosecond) and burst N:
// N events at once are allowed, then one every T. In any span of time d
// at most N + d/T events get through (a burst, then the sustained rate of
// N per Per), never the 2N in quick succession that a fixed window lets
// through across its boundary. Each Allow is one AllowRate, one atomic
// round trip. A refused event changes nothing: a flood of refused requests
// does not push the budget's return further away, and the retry time
// Allow reports is when the next event will be allowed.
//
// Otherwise (an application's own PendingStore without AllowRate) the
// Limiter falls back to fixed windows on IncrPending counters: a window
// opens with a key's first event and lasts Per, N events are allowed in
// it, and refused events count too. Across a window boundary a client can
// then get up to 2N events in a short time; implement store.RateStore to
// avoid that.
//
// A Limiter is safe for concurrent use by multiple goroutines.
type Limiter struct {
	ps     store.PendingStore
	rs     store.RateStore // nil: the fixed-window fallback
	prefix string
}

// New returns a Limiter that keeps its state in ps under keys that start
// with prefix (for example "auth:rl:"). It uses GCRA when ps implements
// store.RateStore, and fixed-window counters otherwise.
func New(ps store.PendingStore, prefix string) *Limiter {
	rs, _ := ps.(store.RateStore)
	return &Limiter{ps: ps, rs: rs, prefix: prefix}
}

// Allow checks one event for key under rate r and reports whether it is
// within the limit. When it is not, retryAfter is the time until an event
// would be allowed (GCRA) or until the window ends (fixed windows),
// rounded up to whole seconds and at least one second (the value of a
// Retry-After header). A zero rate always allows without touching the
// store; a non-zero rate whose N or Per is not positive is an error.
//
// key names what is limited (for example "login:ip:" plus an address, or an
// email); it is hashed with SHA-256 before use, so that it never appears in
// the store. The store key also names the rate (GCRA: N and Per; fixed
// windows: Per), so that one key limited at two rates keeps two states.
//
// When the store fails, Allow returns ok false and the store's error
// (wrapping store.ErrUnavailable when the backend is unreachable); the
// caller decides whether to fail open or closed.
func (l *Limiter) Allow(ctx context.Context, key string, r Rate) (ok bool, retryAfter time.Duration, err error) {
	if r.Zero() {
		return true, 0, nil
	}
	if r.N <= 0 || r.Per <= 0 {
		return false, 0, fmt.Errorf("ratelimit: invalid rate {N: %d, Per: %v}: both must be positive", r.N, r.Per)
	}
	sum := sha256.Sum256([]byte(key))
	hashed := base64.RawURLEncoding.EncodeToString(sum[:])
	if l.rs != nil {
		// The emission interval, rounded up so that N intervals are never
		// shorter than Per.
		interval := r.Per / time.Duration(r.N)
		if interval*time.Duration(r.N) < r.Per {
			interval++
		}
		storeKey := l.prefix + "gcra:" + strconv.Itoa(r.N) + "/" + r.Per.String() + ":" + hashed
		ok, retry, err := l.rs.AllowRate(ctx, storeKey, interval, r.N)
		if err != nil {
			return false, 0, fmt.Errorf("ratelimit: %w", err)
		}
		if ok {
			return true, 0, nil
		}
		return false, roundUpSeconds(retry), nil
	}
	storeKey := l.prefix + r.Per.String() + ":" + hashed
	count, ttlLeft, err := l.ps.IncrPending(ctx, storeKey, r.Per)
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if count <= int64(r.N) {
		return true, 0, nil
	}
	return false, roundUpSeconds(ttlLeft), nil
}

// roundUpSeconds rounds d up to whole seconds, at least one.
func roundUpSeconds(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

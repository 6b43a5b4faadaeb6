package password

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Sentinel errors returned by Hasher, wrapped with detail; check them with
// errors.Is.
var (
	// ErrBusy is returned when no hashing slot became free before the
	// context ended. The error also wraps the context's cause. HTTP callers
	// answer it with 503 Service Unavailable.
	ErrBusy = errors.New("password: no hashing slot free")
	// ErrUnknownFormat is returned by Verify for an encoded hash it cannot
	// read, or whose cost parameters lie outside the accepted limits.
	// Callers treat it as a non-match.
	ErrUnknownFormat = errors.New("password: unknown hash format")
)

// Hasher hashes and verifies passwords. At most maxConcurrent hash
// computations (argon2, bcrypt and PBKDF2 alike) run at once across all
// goroutines using the Hasher; callers wait for a slot until their context
// is done and then get ErrBusy. A free slot is taken even when the context
// is already done. A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	lim    limits
	slots  chan struct{}

	inFlight atomic.Int64
	peak     atomic.Int64

	dummy func() string
}

// NewHasher returns a Hasher that writes argon2id hashes with p and runs at
// most maxConcurrent hash computations at once. Zero fields of p take the
// values of DefaultParams; maxConcurrent <= 0 means runtime.GOMAXPROCS(0).
// NewHasher panics if p fails Params.Validate, which callers can check
// first.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, lim: defaultLimits, slots: make(chan struct{}, maxConcurrent)}
	h.dummy = sync.OnceValue(func() string {
		// A hash of the current params with random salt and key: verifying
		// against it costs exactly what verifying a real hash costs.
		salt, key := make([]byte, h.params.SaltLength), make([]byte, h.params.KeyLength)
		rand.Read(salt)
		rand.Read(key)
		return encodeArgon2id(h.params, salt, key)
	})
	return h
}

// Params returns the parameters new hashes are written with, zero fields
// filled in.
func (h *Hasher) Params() Params { return h.params }

// acquire takes a hashing slot, waiting until ctx is done. A free slot is
// taken even when ctx is already done.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
	default:
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrBusy, context.Cause(ctx))
		}
	}
	n := h.inFlight.Add(1)
	for {
		old := h.peak.Load()
		if n <= old || h.peak.CompareAndSwap(old, n) {
			break
		}
	}
	return nil
}

// release gives back a slot taken by acquire.
func (h *Hasher) release() {
	h.inFlight.Add(-1)
	<-h.slots
}

// Hash returns an argon2id hash of password with the Hasher's params, in
// PHC format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, salt and hash
// in standard base64 without padding. The salt comes from crypto/rand.
// It returns an error wrapping ErrBusy when no slot frees before ctx is done.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, h.params.KeyLength)
	return encodeArgon2id(h.params, salt, key), nil
}

// encodeArgon2id writes the PHC string for p, salt and key.
func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether password matches encoded, comparing in constant
// time. It reads argon2id and argon2i in PHC format ($argon2id$v=19$...);
// bcrypt ($2a$, $2b$, $2y$; passwords cut to 72 bytes as bcrypt does); and
// Django's pbkdf2_sha256$, pbkdf2_sha1$, argon2$argon2id$, argon2$argon2i$,
// bcrypt$ and bcrypt_sha256$ (bcrypt over the hex SHA-256 of the password).
// It also reports whether encoded should be replaced by h.Hash(password):
// needsRehash is true for every format other than argon2id with exactly the
// Hasher's params (foreign formats, argon2i, other costs, salt or key
// lengths). needsRehash describes encoded alone, whatever ok is; callers act
// on it only when ok is true.
//
// An encoded hash Verify cannot read, or whose cost lies above the Max
// limits, gives an error wrapping ErrUnknownFormat before any computation.
// No free slot before ctx is done gives an error wrapping ErrBusy. On error,
// ok and needsRehash are false.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, err := parse(encoded, h.lim)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	ok, err = p.matches(password)
	if err != nil {
		return false, false, err
	}
	return ok, h.needsRehash(p), nil
}

// needsRehash reports whether p differs from what Hash writes now.
func (h *Hasher) needsRehash(p *parsed) bool {
	return p.scheme != schemeArgon2id || p.django ||
		p.memory != h.params.Memory ||
		p.iterations != h.params.Iterations ||
		p.parallelism != h.params.Parallelism ||
		len(p.salt) != int(h.params.SaltLength) ||
		len(p.key) != int(h.params.KeyLength)
}

// DummyVerify spends the same work as verifying password against a real
// hash of the Hasher's current params, and discards the result, so that a
// login for an unknown email takes as long as one with a wrong password.
// The hash it verifies against is made once, on first use, and shared by
// all goroutines. It returns an error wrapping ErrBusy when no slot frees
// before ctx is done, and nil otherwise.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy())
	return err
}

// Stats reports the number of hash computations running now and the
// highest number ever running at once, for tests and metrics.
func (h *Hasher) Stats() (inFlight, peak int) {
	return int(h.inFlight.Load()), int(h.peak.Load())
}

// Reserve takes a hashing slot as a hash computation does, waiting until
// ctx is done (then an error wrapping ErrBusy), and returns the function
// that gives it back; calls after the first do nothing. It lets a caller
// hold capacity for work of its own, and tests fill every slot.
func (h *Hasher) Reserve(ctx context.Context) (release func(), err error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	return sync.OnceFunc(h.release), nil
}

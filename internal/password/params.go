package password

import (
	"errors"
	"fmt"
)

// Limits on the cost parameters of stored hashes. Verify refuses hashes
// outside them with ErrUnknownFormat before computing anything, so a
// corrupted or hostile stored hash cannot hang or exhaust the process.
// Params.Validate applies the argon2 limits to new hashes as well.
const (
	// MaxArgon2Memory is the highest argon2 memory parameter accepted, in
	// KiB (1 GiB).
	MaxArgon2Memory = 1 << 20
	// MaxArgon2Iterations is the highest argon2 time parameter accepted.
	MaxArgon2Iterations = 256
	// MaxArgon2Work is the highest product of argon2 memory (KiB) and
	// iterations accepted (4 GiB·passes).
	MaxArgon2Work = 1 << 22
	// MaxPBKDF2Iterations is the highest PBKDF2 iteration count accepted.
	MaxPBKDF2Iterations = 10_000_000
	// MaxBcryptCost is the highest bcrypt cost accepted.
	MaxBcryptCost = 16

	minArgon2Salt = 8
	maxArgon2Salt = 1024
	minArgon2Key  = 4
	maxArgon2Key  = 1024
)

// Params are argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB; at least 8 × Parallelism and at
	// most MaxArgon2Memory. Zero means 19456 (19 MiB).
	Memory uint32
	// Iterations is the time cost (passes over memory); at most
	// MaxArgon2Iterations, and Memory × Iterations at most MaxArgon2Work.
	// Zero means 2.
	Iterations uint32
	// Parallelism is the number of lanes (and goroutines) per hash. Zero
	// means 1.
	Parallelism uint8
	// SaltLength is the length of the random salt in bytes, 8 to 1024.
	// Zero means 16.
	SaltLength uint32
	// KeyLength is the length of the derived key in bytes, 4 to 1024. Zero
	// means 32.
	KeyLength uint32
}

// DefaultParams returns OWASP's argon2id recommendation: m=19456 KiB
// (19 MiB), t=2, p=1, a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// withDefaults returns p with every zero field replaced by DefaultParams'.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = d.SaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = d.KeyLength
	}
	return p
}

// Validate reports whether p, after zero fields take their defaults, lies
// within the limits Verify accepts. It returns an error naming the first
// field out of range, or nil.
func (p Params) Validate() error {
	p = p.withDefaults()
	if err := checkArgon2Cost(p.Memory, p.Iterations, uint32(p.Parallelism)); err != nil {
		return err
	}
	if p.SaltLength < minArgon2Salt || p.SaltLength > maxArgon2Salt {
		return fmt.Errorf("password: SaltLength %d outside [%d, %d]", p.SaltLength, minArgon2Salt, maxArgon2Salt)
	}
	if p.KeyLength < minArgon2Key || p.KeyLength > maxArgon2Key {
		return fmt.Errorf("password: KeyLength %d outside [%d, %d]", p.KeyLength, minArgon2Key, maxArgon2Key)
	}
	return nil
}

var errParams = errors.New("password: argon2 parameters out of range")

// checkArgon2Cost checks argon2 memory, iterations and parallelism against
// the limits.
func checkArgon2Cost(memory, iterations, parallelism uint32) error {
	switch {
	case parallelism < 1 || parallelism > 255:
		return fmt.Errorf("%w: Parallelism %d outside [1, 255]", errParams, parallelism)
	case iterations < 1 || iterations > MaxArgon2Iterations:
		return fmt.Errorf("%w: Iterations %d outside [1, %d]", errParams, iterations, MaxArgon2Iterations)
	case memory < 8*parallelism || memory > MaxArgon2Memory:
		return fmt.Errorf("%w: Memory %d KiB outside [8×Parallelism, %d]", errParams, memory, MaxArgon2Memory)
	case uint64(memory)*uint64(iterations) > MaxArgon2Work:
		return fmt.Errorf("%w: Memory×Iterations %d above %d", errParams, uint64(memory)*uint64(iterations), MaxArgon2Work)
	}
	return nil
}

package password

import "context"

// HoldSlot takes a hashing slot as a hash computation would and returns the
// function that gives it back, so tests can fill every slot.
func (h *Hasher) HoldSlot(ctx context.Context) (release func(), err error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	return h.release, nil
}

// DummyHash returns the encoded hash DummyVerify verifies against.
func (h *Hasher) DummyHash() string { return h.dummy() }

// NewHasherWithLimits is NewHasher with lower cost limits for stored
// hashes, so fuzzing never spends long on one input.
func NewHasherWithLimits(p Params, maxConcurrent int, argon2Work uint64, pbkdf2Iterations, bcryptCost int) *Hasher {
	h := NewHasher(p, maxConcurrent)
	h.lim = limits{
		argon2Memory:     uint32(min(argon2Work, MaxArgon2Memory)),
		argon2Iterations: uint32(min(argon2Work, MaxArgon2Iterations)),
		argon2Work:       argon2Work,
		pbkdf2Iterations: pbkdf2Iterations,
		bcryptCost:       bcryptCost,
	}
	return h
}

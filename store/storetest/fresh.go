package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// maxNameStem is how many bytes of the test's name UniqueName keeps.
const maxNameStem = 20

// UniqueName returns an identifier for tb that no other call returns, in
// this process or another: the letter t, the last element of tb's name
// reduced to at most 20 lower-case letters, digits and underscores, an
// underscore and 16 random hex digits. It is at most 38 bytes long, so it
// can serve as a PostgreSQL schema name (with a prefix of up to 25 bytes),
// a Redis key prefix, a file name or a database name.
func UniqueName(tb testing.TB) string {
	name := tb.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.WriteByte('t')
	for _, r := range strings.ToLower(name) {
		if b.Len() > maxNameStem {
			break
		}
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var random [8]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never fails
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(random[:]))
	return b.String()
}

// Fresh adapts a constructor that opens a store in a named part of one
// real database (a schema, a key prefix, a file) to the constructor
// RunUserStore, RunUserStoreHarness and RunPendingStore take: each call,
// one per subtest, passes newStore a name from UniqueName, so every
// subtest gets a fresh, empty store even though all of them share one
// database server. newStore creates what it needs under name and
// registers its removal with t.Cleanup.
func Fresh[S any](newStore func(t *testing.T, name string) S) func(t *testing.T) S {
	return func(t *testing.T) S {
		t.Helper()
		return newStore(t, UniqueName(t))
	}
}

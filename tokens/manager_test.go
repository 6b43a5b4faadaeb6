package tokens_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

func TestNewManagerValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    tokens.Options
		wantErr string // substring of the error; empty means success
	}{
		{"no keys", tokens.Options{}, "Keys is empty"},
		{"empty key list", tokens.Options{Keys: []tokens.Key{}}, "Keys is empty"},
		{"short secret", tokens.Options{Keys: []tokens.Key{{ID: "k1", Secret: secret(1)[:31]}}}, "too short"},
		{"nil secret", tokens.Options{Keys: []tokens.Key{{ID: "k1"}}}, "too short"},
		{"short second secret", tokens.Options{Keys: []tokens.Key{key1, {ID: "k2", Secret: []byte("short")}}}, "Keys[1]"},
		{"empty kid", tokens.Options{Keys: []tokens.Key{{Secret: secret(1)}}}, "ID (kid) is empty"},
		{"duplicate kid", tokens.Options{Keys: []tokens.Key{key1, {ID: "k1", Secret: secret(2)}}}, "duplicate kid"},
		{"kid with dot", tokens.Options{Keys: []tokens.Key{{ID: "k.1", Secret: secret(1)}}}, "malformed"},
		{"kid with space", tokens.Options{Keys: []tokens.Key{{ID: "k 1", Secret: secret(1)}}}, "malformed"},
		{"kid too long", tokens.Options{Keys: []tokens.Key{{ID: strings.Repeat("k", 65), Secret: secret(1)}}}, "malformed"},
		{"negative access TTL", tokens.Options{Keys: []tokens.Key{key1}, AccessTTL: -time.Second}, "AccessTTL"},
		{"negative refresh TTL", tokens.Options{Keys: []tokens.Key{key1}, RefreshTTL: -time.Second}, "RefreshTTL"},
		{"negative leeway", tokens.Options{Keys: []tokens.Key{key1}, Leeway: -time.Second}, "Leeway"},
		{"minimal valid", tokens.Options{Keys: []tokens.Key{{ID: "k1", Secret: secret(1)}}}, ""},
		{"two keys", tokens.Options{Keys: []tokens.Key{key1, key2}}, ""},
		{"longest kid", tokens.Options{Keys: []tokens.Key{{ID: strings.Repeat("a", 64), Secret: secret(1)}}}, ""},
		{"url-safe kid", tokens.Options{Keys: []tokens.Key{{ID: "2030-01_Az9", Secret: secret(1)}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tokens.NewManager(tt.opts)
			if tt.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("got (%v, %v), want a manager and nil", m, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultsAndTTLs(t *testing.T) {
	c := newClock(t0)
	def := newManager(t, c, key1)
	if got, want := def.AccessTTL(), 15*time.Minute; got != want {
		t.Errorf("default AccessTTL: got %v, want %v", got, want)
	}
	if got, want := def.RefreshTTL(), 7*24*time.Hour; got != want {
		t.Errorf("default RefreshTTL: got %v, want %v", got, want)
	}
	custom := newManagerOpts(t, tokens.Options{Keys: []tokens.Key{key1}, Now: c.Now, AccessTTL: time.Minute, RefreshTTL: time.Hour})
	for _, tt := range []struct {
		m    *tokens.Manager
		typ  string
		want time.Duration
	}{
		{def, tokens.TypeAccess, 15 * time.Minute},
		{def, tokens.TypeRefresh, 7 * 24 * time.Hour},
		{custom, tokens.TypeAccess, time.Minute},
		{custom, tokens.TypeRefresh, time.Hour},
	} {
		cl := tt.m.NewClaims(tt.typ, "u1", 0, "s1")
		if got := cl.ExpiresAt.Sub(cl.IssuedAt); got != tt.want {
			t.Errorf("%s lifetime: got %v, want %v", tt.typ, got, tt.want)
		}
		if want := t0.Truncate(time.Second); !cl.IssuedAt.Equal(want) {
			t.Errorf("IssuedAt: got %v, want %v", cl.IssuedAt, want)
		}
	}
	if got, want := custom.AccessTTL(), time.Minute; got != want {
		t.Errorf("AccessTTL: got %v, want %v", got, want)
	}
	if got, want := custom.RefreshTTL(), time.Hour; got != want {
		t.Errorf("RefreshTTL: got %v, want %v", got, want)
	}
}

// TestSecretIsCopied proves that mutating the caller's slice after
// NewManager changes neither signing nor verification.
func TestSecretIsCopied(t *testing.T) {
	c := newClock(t0)
	s := secret(7)
	m := newManager(t, c, tokens.Key{ID: "k", Secret: s})
	tok, _ := mustSign(t, m, tokens.TypeAccess)
	ott := m.SignOneTime("p", "u1", "st", time.Hour)
	for i := range s {
		s[i] = 0
	}
	if _, err := m.Parse(tok, tokens.TypeAccess); err != nil {
		t.Errorf("Parse after mutating the caller's secret: got %v, want nil", err)
	}
	if err := m.VerifyOneTime(ott, "p", "u1", "st"); err != nil {
		t.Errorf("VerifyOneTime after mutating the caller's secret: got %v, want nil", err)
	}
	tok2, _ := mustSign(t, m, tokens.TypeAccess)
	ref := newManager(t, c, tokens.Key{ID: "k", Secret: secret(7)})
	if _, err := ref.Parse(tok2, tokens.TypeAccess); err != nil {
		t.Errorf("token signed after mutation, parsed with the original secret: got %v, want nil", err)
	}
}

func TestNewID(t *testing.T) {
	const goroutines, perG = 8, 500
	var (
		mu   sync.Mutex
		seen = make(map[string]bool, goroutines*perG)
		wg   sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			ids := make([]string, perG)
			for i := range ids {
				ids[i] = tokens.NewID()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if seen[id] {
					t.Errorf("NewID returned %q twice", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
	for id := range seen {
		checkID(t, id)
		break
	}
}

// checkID checks that id is 128 bits, base64url without padding.
func checkID(t *testing.T, id string) {
	t.Helper()
	raw, err := b64.Strict().DecodeString(id)
	if err != nil || len(raw) != 16 || len(id) != 22 {
		t.Errorf("ID %q: got %d bytes (err %v), want 22 base64url characters of 16 bytes", id, len(raw), err)
	}
}

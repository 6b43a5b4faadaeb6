package tokens_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

const (
	purpose = "password_reset"
	user    = "u1"
	state   = "argon2id$hash|tv=3"
)

func TestOneTimeValid(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	tok := m.SignOneTime(purpose, user, state, time.Hour)
	if err := m.VerifyOneTime(tok, purpose, user, state); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	// Usable verbatim in a URL query or path.
	for i := range len(tok) {
		if c := tok[i]; !(c == '.' || c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			t.Errorf("token %q: byte %d (%q) is not URL-safe", tok, i, c)
		}
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "k1" {
		t.Fatalf("token %q: got %d parts with kid %q, want 3 parts with kid k1", tok, len(parts), parts[0])
	}
	if got, want := parts[1], strconv.FormatInt(t0.Add(time.Hour).Unix(), 36); got != want {
		t.Errorf("expiry field: got %q, want %q", got, want)
	}
	// The same inputs give the same token; nothing random is inside.
	if again := m.SignOneTime(purpose, user, state, time.Hour); again != tok {
		t.Errorf("signed twice: got %q and %q, want equal", tok, again)
	}
}

func TestOneTimeMismatch(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	tok := m.SignOneTime(purpose, user, state, time.Hour)
	tests := []struct {
		name, purpose, user, state string
	}{
		{"other purpose", "verify_account", user, state},
		{"other user", purpose, "u2", state},
		{"changed state", purpose, user, state + "x"},
		{"empty state", purpose, user, ""},
		{"purpose and user shifted", purpose + "u", "1", state},
		{"user and state shifted", purpose, user + "a", state[1:]},
		{"all empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, m.VerifyOneTime(tok, tt.purpose, tt.user, tt.state), tokens.ErrInvalid)
		})
	}
	// Field boundaries are unambiguous for tokens signed with empty fields
	// too.
	a := m.SignOneTime("ab", "", "c", time.Hour)
	wantKind(t, m.VerifyOneTime(a, "a", "b", "c"), tokens.ErrInvalid)
	wantKind(t, m.VerifyOneTime(a, "ab", "c", ""), tokens.ErrInvalid)
	wantKind(t, m.VerifyOneTime(a, "ab", "", "c"), nil)
}

func TestOneTimeExpiry(t *testing.T) {
	exp := time.Unix(t0.Add(time.Hour).Unix(), 0)
	tests := []struct {
		name    string
		leeway  time.Duration
		now     time.Time
		wantErr error
	}{
		{"one second before expiry", 0, exp.Add(-time.Second), nil},
		{"at expiry", 0, exp, tokens.ErrExpired},
		{"a year later", 0, exp.Add(365 * 24 * time.Hour), tokens.ErrExpired},
		{"within leeway", 10 * time.Second, exp.Add(9 * time.Second), nil},
		{"at expiry plus leeway", 10 * time.Second, exp.Add(10 * time.Second), tokens.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(t0)
			m := newManagerOpts(t, tokens.Options{Keys: []tokens.Key{key1}, Now: c.Now, Leeway: tt.leeway})
			tok := m.SignOneTime(purpose, user, state, time.Hour)
			c.Set(tt.now)
			wantKind(t, m.VerifyOneTime(tok, purpose, user, state), tt.wantErr)
		})
	}
	for _, ttl := range []time.Duration{0, -time.Hour} {
		c := newClock(t0)
		m := newManager(t, c, key1)
		tok := m.SignOneTime(purpose, user, state, ttl)
		if err := m.VerifyOneTime(tok, purpose, user, state); !errors.Is(err, tokens.ErrExpired) {
			t.Errorf("ttl %v: got %v, want ErrExpired", ttl, err)
		}
	}
}

func TestOneTimeTampering(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1, key2)
	tok := m.SignOneTime(purpose, user, state, time.Hour)
	parts := strings.Split(tok, ".")
	kid, expText, mac := parts[0], parts[1], parts[2]
	exp, err := strconv.ParseInt(expText, 36, 64)
	if err != nil {
		t.Fatal(err)
	}
	join := func(p ...string) string { return strings.Join(p, ".") }
	b36 := func(n int64) string { return strconv.FormatInt(n, 36) }
	tests := []struct{ name, tok string }{
		{"kid switched to the other known key", join("k2", expText, mac)},
		{"unknown kid", join("k9", expText, mac)},
		{"empty kid", join("", expText, mac)},
		{"expiry extended by a second", join(kid, b36(exp+1), mac)},
		{"expiry extended by a year", join(kid, b36(exp+365*24*3600), mac)},
		{"expiry shortened", join(kid, b36(exp-1), mac)},
		{"expiry with plus sign", join(kid, "+"+expText, mac)},
		{"expiry in upper case", join(kid, strings.ToUpper(expText), mac)},
		{"expiry with leading zero", join(kid, "0"+expText, mac)},
		{"expiry negative", join(kid, "-"+expText, mac)},
		{"expiry zero", join(kid, "0", mac)},
		{"expiry empty", join(kid, "", mac)},
		{"expiry not base 36", join(kid, "!!", mac)},
		{"mac empty", join(kid, expText, "")},
		{"mac with padding", join(kid, expText, mac+"=")},
		{"mac with newline", join(kid, expText, mac[:5]+"\n"+mac[5:])},
		{"mac extended", join(kid, expText, mac+"A")},
		{"mac of another state", join(kid, expText, strings.Split(m.SignOneTime(purpose, user, "other", time.Hour), ".")[2])},
		{"fourth field", join(kid, expText, mac, "x")},
		{"fields swapped", join(expText, kid, mac)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, m.VerifyOneTime(tt.tok, purpose, user, state), tokens.ErrInvalid)
		})
	}

	t.Run("every character of the mac", func(t *testing.T) {
		b := []byte(mac)
		for i := range b {
			orig := b[i]
			for _, r := range []byte("AQgw_-09") {
				if r == orig {
					continue
				}
				b[i] = r
				wantKind(t, m.VerifyOneTime(join(kid, expText, string(b)), purpose, user, state), tokens.ErrInvalid)
			}
			b[i] = orig
		}
	})
	t.Run("tampered and expired", func(t *testing.T) {
		c.Add(2 * time.Hour)
		defer c.Set(t0)
		wantKind(t, m.VerifyOneTime(join(kid, expText, mac[:len(mac)-1]+"A"), purpose, user, state), tokens.ErrInvalid)
		wantKind(t, m.VerifyOneTime(tok, purpose, user, state), tokens.ErrExpired)
	})
}

func TestOneTimeMalformed(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	tok := m.SignOneTime(purpose, user, state, time.Hour)
	for i := range len(tok) {
		wantKind(t, m.VerifyOneTime(tok[:i], purpose, user, state), tokens.ErrInvalid)
	}
	jwtTok, _ := mustSign(t, m, tokens.TypeAccess)
	for _, g := range []string{
		"", ".", "..", "...", "k1", "k1.", "k1..", "a.b.c", "k1.zzzzzz.", "k1.1.AAAA",
		"\x00\x01\x02", "k1.\xff.\xfe", strings.Repeat("a", 1000), strings.Repeat(".", 300),
		"k1." + strings.Repeat("z", 300) + ".x",
		jwtTok,
	} {
		wantKind(t, m.VerifyOneTime(g, purpose, user, state), tokens.ErrInvalid)
	}
	// A one-time token is no JWT either.
	_, err := m.Parse(tok, tokens.TypeAccess)
	wantKind(t, err, tokens.ErrInvalid)
}

func TestOneTimeKeys(t *testing.T) {
	c := newClock(t0)
	oldKey := tokens.Key{ID: "old", Secret: secret(3)}
	newKey := tokens.Key{ID: "new", Secret: secret(4)}
	before := newManager(t, c, oldKey)
	during := newManager(t, c, newKey, oldKey)
	after := newManager(t, c, newKey)
	sameKidOtherSecret := newManager(t, c, tokens.Key{ID: "old", Secret: secret(5)})

	tok := before.SignOneTime(purpose, user, state, time.Hour)
	wantKind(t, during.VerifyOneTime(tok, purpose, user, state), nil)
	wantKind(t, after.VerifyOneTime(tok, purpose, user, state), tokens.ErrInvalid)
	wantKind(t, sameKidOtherSecret.VerifyOneTime(tok, purpose, user, state), tokens.ErrInvalid)
	if got := strings.Split(during.SignOneTime(purpose, user, state, time.Hour), ".")[0]; got != "new" {
		t.Errorf("kid of a token signed during rotation: got %q, want new", got)
	}
}

func BenchmarkVerifyOneTime(b *testing.B) {
	m := newManagerOpts(b, tokens.Options{Keys: []tokens.Key{key1}})
	tok := m.SignOneTime(purpose, user, state, time.Hour)
	for b.Loop() {
		if err := m.VerifyOneTime(tok, purpose, user, state); err != nil {
			b.Fatal(err)
		}
	}
}

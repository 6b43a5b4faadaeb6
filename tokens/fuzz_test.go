package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

// FuzzParse checks that Parse never panics, that every failure is exactly
// one of ErrInvalid and ErrExpired and comes with no claims, and that an accepted token is one the
// Manager itself issued: the claims it yields re-sign to the same string, so
// no mutation of a genuine token (another base64 spelling, a stray byte) is
// accepted. The seeds hold no token crafted with the key in another JSON
// layout, for which the last check would not hold.
func FuzzParse(f *testing.F) {
	c := newClock(t0)
	m := newManager(f, c, key1)
	access, _ := mustSign(f, m, tokens.TypeAccess)
	refresh, _ := mustSign(f, m, tokens.TypeRefresh)
	f.Add(access)
	f.Add(refresh)
	f.Add(access[:len(access)-1])
	f.Add(rawToken(f, map[string]any{"alg": "none", "kid": "k1"}, validPayload(t0), nil))
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add(m.SignOneTime("p", "u", "s", time.Hour))
	f.Fuzz(func(t *testing.T, tok string) {
		for _, typ := range []string{tokens.TypeAccess, tokens.TypeRefresh} {
			cl, err := m.Parse(tok, typ)
			if err != nil {
				if errors.Is(err, tokens.ErrInvalid) == errors.Is(err, tokens.ErrExpired) {
					t.Fatalf("Parse(%q): got error %v, want exactly one of ErrInvalid, ErrExpired", tok, err)
				}
				if cl != (tokens.Claims{}) {
					t.Fatalf("Parse(%q): got claims %+v with error %v, want none", tok, cl, err)
				}
				continue
			}
			if cl.Type != typ || cl.Subject == "" || cl.ID == "" || cl.SessionID == "" {
				t.Fatalf("Parse(%q, %q): accepted claims %+v", tok, typ, cl)
			}
			again, err := m.Sign(cl)
			if err != nil || again != tok {
				t.Fatalf("Parse(%q) accepted a token that re-signs to (%q, %v)", tok, again, err)
			}
		}
	})
}

// FuzzVerifyOneTime checks that VerifyOneTime never panics and that only
// the genuine token is accepted.
func FuzzVerifyOneTime(f *testing.F) {
	c := newClock(t0)
	m := newManager(f, c, key1)
	genuine := m.SignOneTime("p", "u", "s", time.Hour)
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-1])
	f.Add("k1.0.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		err := m.VerifyOneTime(tok, "p", "u", "s")
		switch {
		case err == nil && tok != genuine:
			t.Fatalf("VerifyOneTime(%q): accepted a token other than %q", tok, genuine)
		case err != nil && errors.Is(err, tokens.ErrInvalid) == errors.Is(err, tokens.ErrExpired):
			t.Fatalf("VerifyOneTime(%q): got error %v, want exactly one of ErrInvalid, ErrExpired", tok, err)
		}
	})
}

package tokens_test

import (
	"cmp"
	"crypto/sha512"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

func TestRoundTrip(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	for _, typ := range []string{tokens.TypeAccess, tokens.TypeRefresh} {
		t.Run(typ, func(t *testing.T) {
			in := tokens.Claims{
				Type:         typ,
				Subject:      "user-42",
				TokenVersion: 1<<62 + 7, // beyond float64 precision
				SessionID:    "session-9",
				ID:           tokens.NewID(),
				IssuedAt:     t0.Truncate(time.Second),
				ExpiresAt:    t0.Truncate(time.Second).Add(10 * time.Minute),
			}
			tok, err := m.Sign(in)
			if err != nil {
				t.Fatalf("Sign: got %v, want nil", err)
			}
			out, err := m.Parse(tok, typ)
			if err != nil {
				t.Fatalf("Parse: got %v, want nil", err)
			}
			if out.Type != in.Type || out.Subject != in.Subject || out.TokenVersion != in.TokenVersion ||
				out.SessionID != in.SessionID || out.ID != in.ID ||
				!out.IssuedAt.Equal(in.IssuedAt) || !out.ExpiresAt.Equal(in.ExpiresAt) {
				t.Errorf("round trip: got %+v, want %+v", out, in)
			}

			// Exactly the documented header fields and claims, nothing else.
			h := decodeSegment(t, tok, 0)
			if got, want := h, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}; !maps.Equal(got, want) {
				t.Errorf("header: got %v, want %v", got, want)
			}
			p := decodeSegment(t, tok, 1)
			gotKeys := slices.Sorted(maps.Keys(p))
			wantKeys := []string{"aud", "exp", "iat", "iss", "jti", "sid", "sub", "tv", "typ"}
			if !slices.Equal(gotKeys, wantKeys) {
				t.Errorf("claims: got %v, want %v", gotKeys, wantKeys)
			}
			if p["iss"] != "authsys" || p["aud"] != "authsys" || p["typ"] != typ {
				t.Errorf("iss/aud/typ: got %v/%v/%v, want authsys/authsys/%s", p["iss"], p["aud"], p["typ"], typ)
			}
		})
	}
}

func TestNewClaimsRoundTrip(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	in := m.NewClaims(tokens.TypeRefresh, "u7", 2, "s7")
	checkID(t, in.ID)
	tok, err := m.Sign(in)
	if err != nil {
		t.Fatalf("Sign: got %v, want nil", err)
	}
	out, err := m.Parse(tok, tokens.TypeRefresh)
	if err != nil {
		t.Fatalf("Parse: got %v, want nil", err)
	}
	if out != in {
		t.Errorf("got %+v, want %+v", out, in)
	}
}

func TestTypeConfusion(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	access, _ := mustSign(t, m, tokens.TypeAccess)
	refresh, _ := mustSign(t, m, tokens.TypeRefresh)
	tests := []struct {
		name, tok, want string
		wantErr         error
	}{
		{"access as access", access, tokens.TypeAccess, nil},
		{"refresh as refresh", refresh, tokens.TypeRefresh, nil},
		{"access as refresh", access, tokens.TypeRefresh, tokens.ErrInvalid},
		{"refresh as access", refresh, tokens.TypeAccess, tokens.ErrInvalid},
		{"access as empty type", access, "", tokens.ErrInvalid},
		{"access as unknown type", access, "verify_account", tokens.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Parse(tt.tok, tt.want)
			wantKind(t, err, tt.wantErr)
		})
	}
}

// TestParseRejectsForgeries crafts tokens by hand. The first case is a
// correctly crafted token, which proves that the crafting is faithful and
// that each other case fails for its own fault.
func TestParseRejectsForgeries(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	iat := t0.Truncate(time.Second)
	with := func(mod func(p map[string]any)) map[string]any {
		p := validPayload(iat)
		mod(p)
		return p
	}
	header := func(mod func(h map[string]any)) map[string]any {
		h := validHeader("k1")
		mod(h)
		return h
	}
	good := hs256(key1.Secret)
	tests := []struct {
		name    string
		header  map[string]any
		payload map[string]any
		sign    func(string) []byte
		wantErr error
	}{
		{"control: valid", validHeader("k1"), validPayload(iat), good, nil},
		{"alg none, empty signature", header(func(h map[string]any) { h["alg"] = "none" }), validPayload(iat), nil, tokens.ErrInvalid},
		{"alg None, empty signature", header(func(h map[string]any) { h["alg"] = "None" }), validPayload(iat), nil, tokens.ErrInvalid},
		{"alg none, HMAC signature", header(func(h map[string]any) { h["alg"] = "none" }), validPayload(iat), good, tokens.ErrInvalid},
		{"alg missing", header(func(h map[string]any) { delete(h, "alg") }), validPayload(iat), good, tokens.ErrInvalid},
		{"HS384 with the same key", header(func(h map[string]any) { h["alg"] = "HS384" }), validPayload(iat), hmacWith(sha512.New384, key1.Secret), tokens.ErrInvalid},
		{"HS512 with the same key", header(func(h map[string]any) { h["alg"] = "HS512" }), validPayload(iat), hmacWith(sha512.New, key1.Secret), tokens.ErrInvalid},
		{"RS256 header, HMAC signature", header(func(h map[string]any) { h["alg"] = "RS256" }), validPayload(iat), good, tokens.ErrInvalid},
		{"ES256 header, HMAC signature", header(func(h map[string]any) { h["alg"] = "ES256" }), validPayload(iat), good, tokens.ErrInvalid},
		{"EdDSA header, HMAC signature", header(func(h map[string]any) { h["alg"] = "EdDSA" }), validPayload(iat), good, tokens.ErrInvalid},
		{"wrong key", validHeader("k1"), validPayload(iat), hs256(secret(9)), tokens.ErrInvalid},
		{"empty signature", validHeader("k1"), validPayload(iat), nil, tokens.ErrInvalid},
		{"missing kid", header(func(h map[string]any) { delete(h, "kid") }), validPayload(iat), good, tokens.ErrInvalid},
		{"empty kid", validHeader(""), validPayload(iat), good, tokens.ErrInvalid},
		{"numeric kid", header(func(h map[string]any) { h["kid"] = 1 }), validPayload(iat), good, tokens.ErrInvalid},
		{"unknown kid", validHeader("k9"), validPayload(iat), good, tokens.ErrInvalid},
		{"wrong iss", validHeader("k1"), with(func(p map[string]any) { p["iss"] = "evil" }), good, tokens.ErrInvalid},
		{"missing iss", validHeader("k1"), with(func(p map[string]any) { delete(p, "iss") }), good, tokens.ErrInvalid},
		{"wrong aud", validHeader("k1"), with(func(p map[string]any) { p["aud"] = "other-app" }), good, tokens.ErrInvalid},
		{"aud array", validHeader("k1"), with(func(p map[string]any) { p["aud"] = []string{"authsys"} }), good, tokens.ErrInvalid},
		{"missing aud", validHeader("k1"), with(func(p map[string]any) { delete(p, "aud") }), good, tokens.ErrInvalid},
		{"missing typ", validHeader("k1"), with(func(p map[string]any) { delete(p, "typ") }), good, tokens.ErrInvalid},
		{"missing sub", validHeader("k1"), with(func(p map[string]any) { delete(p, "sub") }), good, tokens.ErrInvalid},
		{"empty sub", validHeader("k1"), with(func(p map[string]any) { p["sub"] = "" }), good, tokens.ErrInvalid},
		{"missing jti", validHeader("k1"), with(func(p map[string]any) { delete(p, "jti") }), good, tokens.ErrInvalid},
		{"missing sid", validHeader("k1"), with(func(p map[string]any) { delete(p, "sid") }), good, tokens.ErrInvalid},
		{"missing exp", validHeader("k1"), with(func(p map[string]any) { delete(p, "exp") }), good, tokens.ErrInvalid},
		{"missing iat", validHeader("k1"), with(func(p map[string]any) { delete(p, "iat") }), good, tokens.ErrInvalid},
		{"exp as string", validHeader("k1"), with(func(p map[string]any) { p["exp"] = "2100000000" }), good, tokens.ErrInvalid},
		{"fractional exp", validHeader("k1"), with(func(p map[string]any) { p["exp"] = float64(iat.Unix()) + 600.5 }), good, tokens.ErrInvalid},
		{"tv as string", validHeader("k1"), with(func(p map[string]any) { p["tv"] = "3" }), good, tokens.ErrInvalid},
		{"iat in the future", validHeader("k1"), with(func(p map[string]any) {
			p["iat"] = iat.Add(time.Hour).Unix()
			p["exp"] = iat.Add(2 * time.Hour).Unix()
		}), good, tokens.ErrInvalid},
		// Without the exp-after-iat check this token would merely be expired.
		{"exp equal to iat", validHeader("k1"), with(func(p map[string]any) { p["exp"] = iat.Unix() }), good, tokens.ErrInvalid},
		{"expired", validHeader("k1"), with(func(p map[string]any) {
			p["iat"] = iat.Add(-time.Hour).Unix()
			p["exp"] = iat.Add(-time.Minute).Unix()
		}), good, tokens.ErrExpired},
		{"expired and wrong aud", validHeader("k1"), with(func(p map[string]any) {
			p["iat"] = iat.Add(-time.Hour).Unix()
			p["exp"] = iat.Add(-time.Minute).Unix()
			p["aud"] = "other-app"
		}), good, tokens.ErrInvalid},
		{"expired and refresh type", validHeader("k1"), with(func(p map[string]any) {
			p["iat"] = iat.Add(-time.Hour).Unix()
			p["exp"] = iat.Add(-time.Minute).Unix()
			p["typ"] = tokens.TypeRefresh
		}), good, tokens.ErrInvalid},
		{"expired and wrong key", validHeader("k1"), with(func(p map[string]any) {
			p["iat"] = iat.Add(-time.Hour).Unix()
			p["exp"] = iat.Add(-time.Minute).Unix()
		}), hs256(secret(9)), tokens.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := rawToken(t, tt.header, tt.payload, tt.sign)
			_, err := m.Parse(tok, tokens.TypeAccess)
			wantKind(t, err, tt.wantErr)
		})
	}
}

// TestParseRejectsEdits edits a genuine token and keeps its signature.
func TestParseRejectsEdits(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1, key2)
	tok, _ := mustSign(t, m, tokens.TypeAccess)
	if _, err := m.Parse(tok, tokens.TypeAccess); err != nil {
		t.Fatalf("control: got %v, want nil", err)
	}
	payload := decodeSegment(t, tok, 1)
	edit := func(k string, v any) string {
		p := maps.Clone(payload)
		p[k] = v
		return replaceSegment(t, tok, 1, p)
	}
	header := decodeSegment(t, tok, 0)
	editHeader := func(k string, v any) string {
		h := maps.Clone(header)
		h[k] = v
		return replaceSegment(t, tok, 0, h)
	}
	parts := strings.Split(tok, ".")
	tests := []struct {
		name, tok string
	}{
		{"typ flipped to refresh, parsed as refresh", edit("typ", tokens.TypeRefresh)},
		{"sub changed", edit("sub", "u2")},
		{"tv raised", edit("tv", 4)},
		{"sid changed", edit("sid", "s2")},
		{"jti changed", edit("jti", "other")},
		{"exp extended", edit("exp", payload["exp"].(float64)+3600)},
		{"kid switched to the other key", editHeader("kid", "k2")},
		{"alg switched to none", editHeader("alg", "none")},
		{"header field added", editHeader("x", "y")},
		{"signature dropped", parts[0] + "." + parts[1] + "."},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(mustSignString(t, m), ".")[2]},
		{"padding appended", tok + "="},
		{"newline inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:]},
		{"carriage return inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r" + parts[2][10:]},
		{"fourth segment", tok + ".e30"},
		{"two segments", parts[0] + "." + parts[1]},
		{"empty", ""},
		{"dots only", ".."},
		{"oversized", tok + strings.Repeat("A", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tokens.TypeAccess
			if strings.HasPrefix(tt.name, "typ flipped") {
				want = tokens.TypeRefresh
			}
			_, err := m.Parse(tt.tok, want)
			wantKind(t, err, tokens.ErrInvalid)
		})
	}
}

func mustSignString(t testing.TB, m *tokens.Manager) string {
	t.Helper()
	tok, _ := mustSign(t, m, tokens.TypeAccess)
	return tok
}

// TestParseRejectsEverySingleCharEdit replaces each character of a genuine
// token with each other base64url character, including the last character
// of each segment whose low bits base64 leaves unused.
func TestParseRejectsEverySingleCharEdit(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	tok, _ := mustSign(t, m, tokens.TypeAccess)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte(tok)
	for i := range b {
		orig := b[i]
		if orig == '.' {
			continue
		}
		// Every alphabet letter at the segment ends and a sample elsewhere
		// keeps the test fast.
		end := i+1 == len(b) || b[i+1] == '.'
		for j := range len(alphabet) {
			r := alphabet[j]
			if r == orig || (!end && j%8 != i%8) {
				continue
			}
			b[i] = r
			if _, err := m.Parse(string(b), tokens.TypeAccess); !errors.Is(err, tokens.ErrInvalid) {
				t.Errorf("edit at %d (%q->%q): got %v, want ErrInvalid", i, orig, r, err)
			}
		}
		b[i] = orig
	}
}

func TestExpiryAndLeeway(t *testing.T) {
	iat := t0.Truncate(time.Second)
	exp := iat.Add(tokens.DefaultAccessTTL)
	tests := []struct {
		name    string
		leeway  time.Duration
		now     time.Time
		wantErr error
	}{
		{"at issue", 0, t0, nil},
		{"one second before expiry", 0, exp.Add(-time.Second), nil},
		{"at expiry", 0, exp, tokens.ErrExpired},
		{"long after expiry", 0, exp.Add(30 * 24 * time.Hour), tokens.ErrExpired},
		{"iat one second in the future", 0, iat.Add(-time.Second), tokens.ErrInvalid},
		{"leeway: after expiry within leeway", 30 * time.Second, exp.Add(29 * time.Second), nil},
		{"leeway: at expiry plus leeway", 30 * time.Second, exp.Add(30 * time.Second), tokens.ErrExpired},
		{"leeway: iat in the future within leeway", 30 * time.Second, iat.Add(-30 * time.Second), nil},
		{"leeway: iat in the future beyond leeway", 30 * time.Second, iat.Add(-31 * time.Second), tokens.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(t0)
			m := newManagerOpts(t, tokens.Options{Keys: []tokens.Key{key1}, Now: c.Now, Leeway: tt.leeway})
			tok, _ := mustSign(t, m, tokens.TypeAccess)
			c.Set(tt.now)
			_, err := m.Parse(tok, tokens.TypeAccess)
			wantKind(t, err, tt.wantErr)
		})
	}
}

func TestIssuerAndAudience(t *testing.T) {
	c := newClock(t0)
	def := newManager(t, c, key1)
	tests := []struct {
		name string
		opts tokens.Options
	}{
		{"other issuer", tokens.Options{Issuer: "other"}},
		{"other audience", tokens.Options{Audience: "other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Keys, o.Now = []tokens.Key{key1}, c.Now
			other := newManagerOpts(t, o)
			tok, _ := mustSign(t, other, tokens.TypeAccess)
			if _, err := other.Parse(tok, tokens.TypeAccess); err != nil {
				t.Fatalf("own token: got %v, want nil", err)
			}
			_, err := def.Parse(tok, tokens.TypeAccess)
			wantKind(t, err, tokens.ErrInvalid)
			own, _ := mustSign(t, def, tokens.TypeAccess)
			_, err = other.Parse(own, tokens.TypeAccess)
			wantKind(t, err, tokens.ErrInvalid)
		})
	}
}

func TestKeyRotation(t *testing.T) {
	c := newClock(t0)
	oldKey := tokens.Key{ID: "old", Secret: secret(3)}
	newKey := tokens.Key{ID: "new", Secret: secret(4)}
	before := newManager(t, c, oldKey)
	during := newManager(t, c, newKey, oldKey)
	after := newManager(t, c, newKey)

	oldTok, _ := mustSign(t, before, tokens.TypeRefresh)
	newTok, _ := mustSign(t, during, tokens.TypeRefresh)
	if got := decodeSegment(t, newTok, 0)["kid"]; got != "new" {
		t.Errorf("kid of a token signed during rotation: got %v, want new", got)
	}
	tests := []struct {
		name    string
		m       *tokens.Manager
		tok     string
		wantErr error
	}{
		{"old token, old key listed second", during, oldTok, nil},
		{"old token, old key dropped", after, oldTok, tokens.ErrInvalid},
		{"new token, new key only", after, newTok, nil},
		{"new token, before rotation", before, newTok, tokens.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.Parse(tt.tok, tokens.TypeRefresh)
			wantKind(t, err, tt.wantErr)
		})
	}
}

func TestSignDeterministic(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	twin := newManager(t, c, key1, key2)
	cl := m.NewClaims(tokens.TypeAccess, "u1", 1, "s1")
	a, err := m.Sign(cl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Sign(cl)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same claims signed twice: got %q and %q, want equal", a, b)
	}
	if d, _ := twin.Sign(cl); d != a {
		t.Errorf("same claims on a manager with the same signing key: got %q, want %q", d, a)
	}
	otherSecret := newManager(t, c, tokens.Key{ID: "k1", Secret: secret(9)})
	if d, _ := otherSecret.Sign(cl); d == a {
		t.Errorf("same claims under another secret: got the same token %q", d)
	}
	cl2 := cl
	cl2.TokenVersion++
	if d, _ := m.Sign(cl2); d == a {
		t.Errorf("different claims: got the same token %q", d)
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	valid := m.NewClaims(tokens.TypeAccess, "u1", 0, "s1")
	tests := []struct {
		name string
		mod  func(*tokens.Claims)
	}{
		{"unknown type", func(c *tokens.Claims) { c.Type = "admin" }},
		{"empty type", func(c *tokens.Claims) { c.Type = "" }},
		{"empty subject", func(c *tokens.Claims) { c.Subject = "" }},
		{"empty session", func(c *tokens.Claims) { c.SessionID = "" }},
		{"empty ID", func(c *tokens.Claims) { c.ID = "" }},
		{"zero IssuedAt", func(c *tokens.Claims) { c.IssuedAt = time.Time{} }},
		{"zero ExpiresAt", func(c *tokens.Claims) { c.ExpiresAt = time.Time{} }},
		{"ExpiresAt equals IssuedAt", func(c *tokens.Claims) { c.ExpiresAt = c.IssuedAt }},
		{"ExpiresAt before IssuedAt", func(c *tokens.Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Hour) }},
	}
	if _, err := m.Sign(valid); err != nil {
		t.Fatalf("control: got %v, want nil", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := valid
			tt.mod(&cl)
			if tok, err := m.Sign(cl); err == nil {
				t.Errorf("got token %q and nil error, want an error", tok)
			}
		})
	}
}

// TestConcurrentUse runs every operation from many goroutines at once on one
// Manager; the race detector checks the shared state.
func TestConcurrentUse(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1, key2)
	const goroutines, perG = 8, 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		jtis = map[string]bool{}
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				typ := tokens.TypeAccess
				if (g+i)%2 == 0 {
					typ = tokens.TypeRefresh
				}
				cl := m.NewClaims(typ, "u1", int64(i), "s1")
				tok, err := m.Sign(cl)
				if err != nil {
					t.Errorf("Sign: got %v, want nil", err)
					return
				}
				got, err := m.Parse(tok, typ)
				if err != nil || got != cl {
					t.Errorf("Parse: got (%+v, %v), want (%+v, nil)", got, err, cl)
				}
				if _, err := m.Parse(tok, otherType(typ)); !errors.Is(err, tokens.ErrInvalid) {
					t.Errorf("Parse as the other type: got %v, want ErrInvalid", err)
				}
				ott := m.SignOneTime("p", cl.ID, "st", time.Hour)
				if err := m.VerifyOneTime(ott, "p", cl.ID, "st"); err != nil {
					t.Errorf("VerifyOneTime: got %v, want nil", err)
				}
				mu.Lock()
				if jtis[cl.ID] {
					t.Errorf("jti %q issued twice", cl.ID)
				}
				jtis[cl.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got, want := len(jtis), goroutines*perG; got != want && !t.Failed() {
		t.Errorf("distinct jti: got %d, want %d", got, want)
	}
}

func otherType(typ string) string {
	if typ == tokens.TypeAccess {
		return tokens.TypeRefresh
	}
	return tokens.TypeAccess
}

func BenchmarkSignAccess(b *testing.B) {
	for _, k := range []tokens.Key{key1, edKey} {
		b.Run(cmp.Or(k.Algorithm, tokens.HS256), func(b *testing.B) {
			m := newManagerOpts(b, tokens.Options{Keys: []tokens.Key{k}})
			cl := m.NewClaims(tokens.TypeAccess, "user-42", 1, tokens.NewID())
			for b.Loop() {
				if _, err := m.Sign(cl); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseAccess(b *testing.B) {
	for _, k := range []tokens.Key{key1, edKey} {
		b.Run(cmp.Or(k.Algorithm, tokens.HS256), func(b *testing.B) {
			m := newManagerOpts(b, tokens.Options{Keys: []tokens.Key{k}})
			tok, _ := mustSign(b, m, tokens.TypeAccess)
			for b.Loop() {
				if _, err := m.Parse(tok, tokens.TypeAccess); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAuthTime checks the optional auth_time claim: it survives a round
// trip, is absent when zero, and a token claiming an auth_time after its
// issue time is refused.
func TestAuthTime(t *testing.T) {
	c := newClock(t0)
	m := newManager(t, c, key1)
	claims := m.NewClaims(tokens.TypeAccess, "u1", 0, "s1")
	claims.AuthTime = claims.IssuedAt.Add(-time.Minute)
	tok, err := m.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Parse(tok, tokens.TypeAccess)
	if err != nil || !got.AuthTime.Equal(claims.AuthTime) {
		t.Fatalf("got auth time %v (%v), want %v", got.AuthTime, err, claims.AuthTime)
	}
	claims.AuthTime = time.Time{}
	tok, _ = m.Sign(claims)
	if got, err := m.Parse(tok, tokens.TypeAccess); err != nil || !got.AuthTime.IsZero() {
		t.Fatalf("without auth time: got %v (%v), want zero", got.AuthTime, err)
	}
	// An auth time after the issue time (another instance's clock runs
	// ahead) is lowered to it: less fresh, never more.
	claims.AuthTime = claims.IssuedAt.Add(3 * time.Second)
	tok, _ = m.Sign(claims)
	if got, err := m.Parse(tok, tokens.TypeAccess); err != nil || !got.AuthTime.Equal(claims.IssuedAt) {
		t.Fatalf("auth time after iat: got %v (%v), want it lowered to iat %v", got.AuthTime, err, claims.IssuedAt)
	}
}

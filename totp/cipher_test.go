package totp_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/totp"
)

func testKey(id string, fill byte) totp.Key {
	return totp.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32)}
}

func mustCipher(t testing.TB, keys ...totp.Key) *totp.Cipher {
	t.Helper()
	c, err := totp.NewCipher(keys)
	if err != nil {
		t.Fatalf("NewCipher: %v", err)
	}
	return c
}

func mustEncrypt(t testing.TB, c *totp.Cipher, plaintext string) string {
	t.Helper()
	ct, err := c.Encrypt(plaintext)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return ct
}

var ciphertextFormat = regexp.MustCompile(`^v1\.k1\.[A-Za-z0-9_-]+$`)

func TestCipherRoundTrip(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1))
	for _, pt := range []string{testSecret, "", "é☕\x00\xff", strings.Repeat("x", 4096)} {
		ct := mustEncrypt(t, c, pt)
		if !ciphertextFormat.MatchString(ct) {
			t.Errorf("got %.60q, want v1.k1.<base64url>", ct)
		}
		if pt != "" && strings.Contains(ct, pt) {
			t.Errorf("ciphertext %q contains the plaintext", ct)
		}
		got, err := c.Decrypt(ct)
		if err != nil || got != pt {
			t.Errorf("Decrypt: got (%.40q, %v), want (%.40q, nil)", got, err, pt)
		}
	}
}

func TestCipherRandomNonce(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1))
	seen := map[string]bool{}
	for range 100 {
		ct := mustEncrypt(t, c, testSecret)
		if seen[ct] {
			t.Fatalf("got ciphertext %s twice, want a fresh nonce each time", ct)
		}
		seen[ct] = true
	}
}

// TestCipherFormat opens a ciphertext with the standard library alone, which
// pins the documented layout: HKDF-SHA256 key, nonce first, version and key
// ID authenticated.
func TestCipherFormat(t *testing.T) {
	k := testKey("k1", 7)
	ct := mustEncrypt(t, mustCipher(t, k), testSecret)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(ct, "v1.k1."))
	if err != nil {
		t.Fatal(err)
	}
	aesKey, err := hkdf.Key(sha256.New, k.Secret, nil, "authsys totp secret", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(raw), gcm.NonceSize()+len(testSecret)+gcm.Overhead(); got != want {
		t.Fatalf("sealed length: got %d, want %d", got, want)
	}
	pt, err := gcm.Open(nil, raw[:12], raw[12:], []byte("v1.k1"))
	if err != nil || string(pt) != testSecret {
		t.Errorf("stdlib open: got (%q, %v), want (%q, nil)", pt, err, testSecret)
	}
}

func TestCipherTamper(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1), testKey("k2", 2))
	ct := mustEncrypt(t, c, testSecret)

	// Every character of the text replaced.
	for i := range len(ct) {
		for _, r := range []byte{'A', 'B', '.', '-', '=', '\n'} {
			if ct[i] == r {
				continue
			}
			b := []byte(ct)
			b[i] = r
			if got, err := c.Decrypt(string(b)); !errors.Is(err, totp.ErrDecrypt) {
				t.Fatalf("byte %d set to %q: got (%q, %v), want ErrDecrypt", i, r, got, err)
			}
		}
	}
	// Every bit of the sealed bytes flipped.
	head, body, _ := strings.Cut(strings.TrimPrefix(ct, "v1."), ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(raw) * 8 {
		b := bytes.Clone(raw)
		b[i/8] ^= 1 << (i % 8)
		bad := "v1." + head + "." + base64.RawURLEncoding.EncodeToString(b)
		if got, err := c.Decrypt(bad); !errors.Is(err, totp.ErrDecrypt) {
			t.Fatalf("bit %d flipped: got (%q, %v), want ErrDecrypt", i, got, err)
		}
	}
	// Every truncation, and additions.
	for i := range len(ct) {
		if got, err := c.Decrypt(ct[:i]); !errors.Is(err, totp.ErrDecrypt) {
			t.Fatalf("truncated to %d: got (%q, %v), want ErrDecrypt", i, got, err)
		}
	}
	for _, bad := range []string{ct + "A", ct + "\n", ct[:10] + "\r\n" + ct[10:], " " + ct, ct + "=", ct + ".x"} {
		if got, err := c.Decrypt(bad); !errors.Is(err, totp.ErrDecrypt) {
			t.Errorf("Decrypt(%q): got (%q, %v), want ErrDecrypt", bad, got, err)
		}
	}
	// Relabelled with the other known key.
	swapped := strings.Replace(ct, "v1.k1.", "v1.k2.", 1)
	if got, err := c.Decrypt(swapped); !errors.Is(err, totp.ErrDecrypt) {
		t.Errorf("key ID swapped: got (%q, %v), want ErrDecrypt", got, err)
	}
}

// TestCipherCanonicalEncoding changes only the unused low bits of the last
// base64 character: the bytes decode the same, yet the text is refused, so
// a ciphertext has exactly one accepted spelling.
func TestCipherCanonicalEncoding(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1))
	ct := mustEncrypt(t, c, "x") // 12+1+16 = 29 bytes: 2 unused bits at the end
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, ct[len(ct)-1])
	for pad := 1; pad < 4; pad++ {
		bad := ct[:len(ct)-1] + string(alphabet[last|pad])
		if got, err := c.Decrypt(bad); !errors.Is(err, totp.ErrDecrypt) {
			t.Errorf("padding bits %d: got (%q, %v), want ErrDecrypt", pad, got, err)
		}
	}
}

func TestCipherMalformed(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1))
	for _, bad := range []string{
		"", ".", "..", "v1", "v1.", "v1.k1", "v1.k1.", "v1..AAAA", "v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"V1.k1.AAAA", "v1.k9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "v1.k1.!!!!", "v1.k1.AAAA",
		"v1.k1." + strings.Repeat("A", 100_000), testSecret, "\x00\xff",
	} {
		if got, err := c.Decrypt(bad); !errors.Is(err, totp.ErrDecrypt) {
			t.Errorf("Decrypt(%.50q): got (%q, %v), want ErrDecrypt", bad, got, err)
		}
	}
}

func TestCipherRotation(t *testing.T) {
	old := testKey("2025", 1)
	cur := testKey("2026", 2)
	ctOld := mustEncrypt(t, mustCipher(t, old), testSecret)

	rotated := mustCipher(t, cur, old)
	if got, err := rotated.Decrypt(ctOld); err != nil || got != testSecret {
		t.Errorf("old ciphertext with the old key second: got (%q, %v), want (%q, nil)", got, err, testSecret)
	}
	ctNew := mustEncrypt(t, rotated, testSecret)
	if !strings.HasPrefix(ctNew, "v1.2026.") {
		t.Errorf("got %s, want it encrypted under the first key, 2026", ctNew)
	}

	dropped := mustCipher(t, cur)
	if got, err := dropped.Decrypt(ctOld); !errors.Is(err, totp.ErrDecrypt) {
		t.Errorf("old key dropped: got (%q, %v), want ErrDecrypt", got, err)
	}
	if got, err := dropped.Decrypt(ctNew); err != nil || got != testSecret {
		t.Errorf("new ciphertext after the drop: got (%q, %v), want (%q, nil)", got, err, testSecret)
	}

	// Same ID, other secret: refused.
	impostor := mustCipher(t, testKey("2026", 3))
	if got, err := impostor.Decrypt(ctNew); !errors.Is(err, totp.ErrDecrypt) {
		t.Errorf("same ID, other secret: got (%q, %v), want ErrDecrypt", got, err)
	}
}

func TestNewCipherValidation(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	tests := []struct {
		name string
		keys []totp.Key
		ok   bool
	}{
		{"no keys", nil, false},
		{"one key", []totp.Key{{ID: "k1", Secret: secret}}, true},
		{"ID of 64 characters", []totp.Key{{ID: strings.Repeat("a", 64), Secret: secret}}, true},
		{"ID charset", []totp.Key{{ID: "Az09_-", Secret: secret}}, true},
		{"empty ID", []totp.Key{{ID: "", Secret: secret}}, false},
		{"ID of 65 characters", []totp.Key{{ID: strings.Repeat("a", 65), Secret: secret}}, false},
		{"dot in ID", []totp.Key{{ID: "k.1", Secret: secret}}, false},
		{"space in ID", []totp.Key{{ID: "k 1", Secret: secret}}, false},
		{"non-ASCII ID", []totp.Key{{ID: "clé", Secret: secret}}, false},
		{"duplicate ID", []totp.Key{{ID: "k1", Secret: secret}, {ID: "k1", Secret: bytes.Repeat([]byte{2}, 32)}}, false},
		{"31-byte secret", []totp.Key{{ID: "k1", Secret: secret[:31]}}, false},
		{"nil secret", []totp.Key{{ID: "k1"}}, false},
		{"short second secret", []totp.Key{{ID: "k1", Secret: secret}, {ID: "k2", Secret: secret[:16]}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := totp.NewCipher(tt.keys)
			if (err == nil) != tt.ok || (c != nil) != tt.ok {
				t.Errorf("got (%v, %v), want ok=%v", c, err, tt.ok)
			}
		})
	}
}

func TestCipherKeepsNoSecretReference(t *testing.T) {
	k := testKey("k1", 1)
	c := mustCipher(t, k)
	ct := mustEncrypt(t, c, testSecret)
	clear(k.Secret)
	if got, err := c.Decrypt(ct); err != nil || got != testSecret {
		t.Errorf("after the caller wiped its slice: got (%q, %v), want (%q, nil)", got, err, testSecret)
	}
}

func TestCipherZeroValue(t *testing.T) {
	var zero totp.Cipher
	var nilCipher *totp.Cipher
	for _, c := range []*totp.Cipher{&zero, nilCipher} {
		if ct, err := c.Encrypt("x"); err == nil {
			t.Errorf("Encrypt: got (%q, nil), want an error", ct)
		}
		if pt, err := c.Decrypt("v1.k1.AAAA"); err == nil {
			t.Errorf("Decrypt: got (%q, nil), want an error", pt)
		}
	}
}

func TestCipherConcurrent(t *testing.T) {
	c := mustCipher(t, testKey("k1", 1), testKey("k0", 0))
	older := mustEncrypt(t, mustCipher(t, testKey("k0", 0)), "old")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				pt := strings.Repeat(string(rune('a'+g)), i)
				ct, err := c.Encrypt(pt)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := c.Decrypt(ct); err != nil || got != pt {
					t.Errorf("got (%q, %v), want (%q, nil)", got, err, pt)
					return
				}
				if got, err := c.Decrypt(older); err != nil || got != "old" {
					t.Errorf("got (%q, %v), want (old, nil)", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkCipherDecrypt(b *testing.B) {
	c := mustCipher(b, testKey("k1", 1))
	ct := mustEncrypt(b, c, testSecret)
	for b.Loop() {
		if _, err := c.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCipherRotate(t *testing.T) {
	old := testKey("old", 1)
	cur := testKey("new", 2)
	before, err := totp.NewCipher([]totp.Key{old})
	if err != nil {
		t.Fatal(err)
	}
	during, err := totp.NewCipher([]totp.Key{cur, old})
	if err != nil {
		t.Fatal(err)
	}
	after, err := totp.NewCipher([]totp.Key{cur})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := before.Encrypt("JBSWY3DPEHPK3PXP")
	fresh, rotated, err := during.Rotate(sealed)
	if err != nil || !rotated || !strings.HasPrefix(fresh, "v1.new.") {
		t.Fatalf("Rotate of an old ciphertext: got %q, %v, %v; want one under key new", fresh, rotated, err)
	}
	if got, err := after.Decrypt(fresh); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Errorf("the rotated ciphertext without the old key: got %q, %v", got, err)
	}
	if again, rotated, err := during.Rotate(fresh); err != nil || rotated || again != fresh {
		t.Errorf("Rotate of a current ciphertext: got %q, %v, %v; want it unchanged", again, rotated, err)
	}
	if _, _, err := after.Rotate(sealed); !errors.Is(err, totp.ErrDecrypt) {
		t.Errorf("Rotate without the old key: got %v, want ErrDecrypt", err)
	}
}

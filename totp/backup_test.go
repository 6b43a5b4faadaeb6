package totp_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/authsys-go/authsys/totp"
)

var backupFormat = regexp.MustCompile(`^[` + totp.BackupAlphabet + `]{5}-[` + totp.BackupAlphabet + `]{5}$`)

func TestBackupAlphabetEntropy(t *testing.T) {
	a := totp.BackupAlphabet
	seen := map[rune]bool{}
	for _, r := range a {
		if seen[r] {
			t.Errorf("symbol %q repeats", r)
		}
		seen[r] = true
	}
	if len(seen) != 32 {
		t.Errorf("alphabet size: got %d, want 32", len(seen))
	}
	if strings.ContainsAny(a, "ilouABCDEFGHIJKLMNOPQRSTUVWXYZ-") {
		t.Errorf("alphabet %q: want no i, l, o, u, upper case or dash", a)
	}
	space := new(big.Int).Exp(big.NewInt(int64(len(seen))), big.NewInt(totp.BackupCodeLen), nil)
	floor := new(big.Int).Lsh(big.NewInt(1), 50)
	if space.Cmp(floor) < 0 {
		t.Errorf("code space: got %v, want at least 2^50 = %v", space, floor)
	}
}

func TestGenerateBackupCodes(t *testing.T) {
	codes, err := totp.GenerateBackupCodes(rand.Reader, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("got %d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !backupFormat.MatchString(c) {
			t.Errorf("got %q, want format abcde-fghij over %s", c, totp.BackupAlphabet)
		}
		if seen[c] {
			t.Errorf("got %q twice, want unique codes", c)
		}
		seen[c] = true
		norm, ok := totp.NormalizeBackupCode(c)
		if want := strings.ReplaceAll(c, "-", ""); !ok || norm != want {
			t.Errorf("NormalizeBackupCode(%q): got (%q, %v), want (%q, true)", c, norm, ok, want)
		}
	}
}

func TestGenerateBackupCodesDeterministic(t *testing.T) {
	// Each symbol takes the low five bits of one byte; high bits never
	// matter, so the symbols stay uniform.
	src := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xEA, 0xCB, 0x2C, 0x4D, 0x6E, 0x8F, 0xF0, 0x31, 0x1E, 0xFF}
	codes, err := totp.GenerateBackupCodes(bytes.NewReader(src), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"01234-56789", "abcde-fghyz"}; len(codes) != 2 || codes[0] != want[0] || codes[1] != want[1] {
		t.Errorf("got %q, want %q", codes, want)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestGenerateBackupCodesErrors(t *testing.T) {
	errBroken := errors.New("entropy pool empty")
	if _, err := totp.GenerateBackupCodes(failingReader{errBroken}, 1); !errors.Is(err, errBroken) {
		t.Errorf("failing reader: got %v, want wrapped %v", err, errBroken)
	}
	if _, err := totp.GenerateBackupCodes(bytes.NewReader(make([]byte, 15)), 2); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: got %v, want io.ErrUnexpectedEOF", err)
	}
	// A source that repeats itself ends in an error, not an endless loop.
	if codes, err := totp.GenerateBackupCodes(zeroReader{}, 2); err == nil {
		t.Errorf("constant reader: got %q, want an error", codes)
	}
	if codes, err := totp.GenerateBackupCodes(zeroReader{}, 1); err != nil || len(codes) != 1 {
		t.Errorf("constant reader, one code: got (%q, %v), want one code", codes, err)
	}
	if _, err := totp.GenerateBackupCodes(rand.Reader, -1); err == nil {
		t.Error("n = -1: got nil error, want one")
	}
	if codes, err := totp.GenerateBackupCodes(rand.Reader, 0); err != nil || len(codes) != 0 {
		t.Errorf("n = 0: got (%q, %v), want no codes", codes, err)
	}
}

func TestNormalizeBackupCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"abcde-fghjk", "abcdefghjk", true},
		{"abcdefghjk", "abcdefghjk", true},
		{"ABCDE-FGHJK", "abcdefghjk", true},
		{"  abcde fghjk\n", "abcdefghjk", true},
		{"ab-cd-ef-gh-jk", "abcdefghjk", true},
		{"a b c d e - f g h j k", "abcdefghjk", true},
		{"\tAbCdE--fGhJk ", "abcdefghjk", true},
		{"12345-67890", "1234567890", true},
		{"Oo0iI-lL1zz", "00011111zz", true}, // o read as 0; i and l as 1
		{"Oo0iI-lL1zzz", "", false},         // 11 symbols
		{"", "", false},
		{"   ", "", false},
		{"abcde-fghj", "", false},                            // 9 symbols
		{"abcde-fghjkm", "", false},                          // 11 symbols
		{"abcde-fghju", "", false},                           // u is not a symbol
		{"abcde-fghj!", "", false},                           // punctuation
		{"abcde_fghjk", "", false},                           // underscore is no separator
		{"abcde-fghjé", "", false},                           // non-ASCII
		{"ａｂｃｄｅ-ｆｇｈｊｋ", "", false},                           // fullwidth
		{"abcde-fghj\x00", "", false},                        // NUL
		{strings.Repeat("-", 60) + "abcde-fghjk", "", false}, // longer than 64 bytes
		{strings.Repeat("a", 10_000), "", false},
	}
	for _, tt := range tests {
		got, ok := totp.NormalizeBackupCode(tt.in)
		want := tt.want
		if !tt.ok {
			want = ""
		}
		if got != want || ok != tt.ok {
			t.Errorf("NormalizeBackupCode(%.40q): got (%q, %v), want (%q, %v)", tt.in, got, ok, want, tt.ok)
		}
	}
}

func TestHashBackupCode(t *testing.T) {
	key := []byte("backup-code-key-0123456789abcdef")
	// printf abcdefghjk | openssl dgst -sha256 -hmac backup-code-key-0123456789abcdef
	const want = "21d1afedcdef829a246d0a232eb7d7950ea75d0c8d38ae5b043733f9a7118f39"
	if got := totp.HashBackupCode(key, "abcdefghjk"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	otherKey := []byte("another-key-0123456789abcdefghij")
	h := totp.HashBackupCode(key, "abcdefghjk")
	tampered := []byte(h)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name       string
		key        []byte
		code, hash string
		want       bool
	}{
		{"same key and code", key, "abcdefghjk", h, true},
		{"other key", otherKey, "abcdefghjk", h, false},
		{"other code", key, "abcdefghjm", h, false},
		{"unnormalized code", key, "abcde-fghjk", h, false},
		{"tampered hash", key, "abcdefghjk", string(tampered), false},
		{"upper-case hash", key, "abcdefghjk", strings.ToUpper(h), false},
		{"truncated hash", key, "abcdefghjk", h[:32], false},
		{"empty hash", key, "abcdefghjk", "", false},
	}
	for _, tt := range tests {
		if got := totp.MatchBackupCode(tt.key, tt.code, tt.hash); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBackupCodeRoundTrip(t *testing.T) {
	key := []byte("backup-code-key-0123456789abcdef")
	codes, err := totp.GenerateBackupCodes(rand.Reader, 10)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		n, _ := totp.NormalizeBackupCode(c)
		hashes[i] = totp.HashBackupCode(key, n)
	}
	for i, c := range codes {
		// As a user might type it.
		n, ok := totp.NormalizeBackupCode(" " + strings.ToUpper(strings.ReplaceAll(c, "-", " - ")) + " ")
		if !ok {
			t.Fatalf("NormalizeBackupCode(%q): got not ok, want ok", c)
		}
		for j, h := range hashes {
			if got, want := totp.MatchBackupCode(key, n, h), i == j; got != want {
				t.Errorf("code %d against hash %d: got %v, want %v", i, j, got, want)
			}
		}
	}
}

func TestBackupCodeKey(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	k1, err := totp.BackupCodeKey(secret, "user-1")
	if err != nil || len(k1) != 32 {
		t.Fatalf("BackupCodeKey: got %d bytes, %v; want 32 bytes", len(k1), err)
	}
	// The same secret in another spelling (lower case, padding) gives the
	// same key; another account or another secret gives another.
	same, _ := totp.BackupCodeKey(strings.ToLower(secret)+"====", "user-1")
	other, _ := totp.BackupCodeKey(secret, "user-2")
	otherSecret, _ := totp.BackupCodeKey("KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU", "user-1")
	if !bytes.Equal(k1, same) {
		t.Error("the same secret spelled differently gave another key")
	}
	if bytes.Equal(k1, other) || bytes.Equal(k1, otherSecret) {
		t.Error("another account or secret gave the same key")
	}
	if _, err := totp.BackupCodeKey("not base32!", "user-1"); err == nil {
		t.Error("a malformed secret: got nil error")
	}
}

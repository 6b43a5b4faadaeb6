package totp_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/totp"
)

// fuzzSecret is a valid 20-byte base32 secret (RFC 6238's test key).
const fuzzSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// fuzzNow is the time the TOTP fuzz targets verify at.
var fuzzNow = time.Unix(1_900_000_000, 0)

// refNormalizeBackupCode is a plain restatement of the documented
// normalisation of backup codes, for FuzzNormalizeBackupCode to compare
// against.
func refNormalizeBackupCode(code string) (string, bool) {
	if len(code) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, c := range []byte(code) {
		switch c {
		case '-', ' ', '\t', '\n', '\r':
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(totp.BackupAlphabet, c) < 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != totp.BackupCodeLen {
		return "", false
	}
	return b.String(), true
}

// FuzzNormalizeBackupCode checks that NormalizeBackupCode accepts exactly
// what its documentation says (compared with a plain restatement), that an
// accepted code is BackupCodeLen symbols of BackupAlphabet, that the
// normalisation is idempotent, and that a refused code yields "".
func FuzzNormalizeBackupCode(f *testing.F) {
	codes, err := totp.GenerateBackupCodes(bytes.NewReader(bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 4)), 3)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range codes {
		f.Add(c)
		f.Add(strings.ToUpper(c))
	}
	for _, s := range []string{
		"", "-", "7k3dq-x9mfa", " 7K3DQ X9MFA\r\n", "7k3dqx9mfa", "7k3dq-x9mf", "7k3dq-x9mfaa",
		"oooooiiiii", "lllll-LLLLL", "uuuuu-uuuuu", "7k3dq\u00a0x9mfa", "7k3dq–x9mfa",
		"----------7k3dqx9mfa----------", strings.Repeat("-", 55) + "7k3dqx9mfa", strings.Repeat("-", 56) + "7k3dqx9mfa",
		"7k3dq\x00x9mfa", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		norm, ok := totp.NormalizeBackupCode(code)
		wantNorm, wantOK := refNormalizeBackupCode(code)
		if norm != wantNorm || ok != wantOK {
			t.Fatalf("NormalizeBackupCode(%q) = %q, %v; want %q, %v", code, norm, ok, wantNorm, wantOK)
		}
		if !ok {
			if norm != "" {
				t.Fatalf("NormalizeBackupCode(%q) refused the code but returned %q", code, norm)
			}
			return
		}
		if len(norm) != totp.BackupCodeLen {
			t.Fatalf("NormalizeBackupCode(%q) = %q: %d symbols, want %d", code, norm, len(norm), totp.BackupCodeLen)
		}
		for i := 0; i < len(norm); i++ {
			if strings.IndexByte(totp.BackupAlphabet, norm[i]) < 0 {
				t.Fatalf("NormalizeBackupCode(%q) = %q holds %q, outside BackupAlphabet", code, norm, norm[i])
			}
		}
		if again, ok := totp.NormalizeBackupCode(norm); !ok || again != norm {
			t.Fatalf("NormalizeBackupCode(%q) = %q, %v; want %q, true (idempotent)", norm, again, ok, norm)
		}
		// The display form (two groups of five) normalizes back.
		if again, ok := totp.NormalizeBackupCode(norm[:5] + "-" + strings.ToUpper(norm[5:])); !ok || again != norm {
			t.Fatalf("display form of %q normalizes to %q, %v", norm, again, ok)
		}
	})
}

// FuzzVerifyCode checks that Verify never panics, refuses every code that is
// not exactly six ASCII digits once trimmed with ErrMalformed, reports
// exactly one sentinel error, and accepts a code only when it is the code of
// the step it returns, that step is within Skew of now and newer than
// lastStep.
func FuzzVerifyCode(f *testing.F) {
	now := fuzzNow.Unix()
	cur, err := totp.Code(fuzzSecret, fuzzNow)
	if err != nil {
		f.Fatal(err)
	}
	prev, _ := totp.Code(fuzzSecret, fuzzNow.Add(-totp.Period))
	step := totp.Step(fuzzNow)
	f.Add(fuzzSecret, cur, now, int64(0))
	f.Add(fuzzSecret, " "+cur+"\n", now, int64(0))
	f.Add(fuzzSecret, prev, now, step-1)
	f.Add(fuzzSecret, cur, now, step)
	f.Add(strings.ToLower(fuzzSecret)+"====", cur, now, int64(0))
	f.Add(fuzzSecret, "12345", now, int64(0))
	f.Add(fuzzSecret, "1234567", now, int64(0))
	f.Add(fuzzSecret, "١٢٣٤٥٦", now, int64(0)) // Arabic-Indic digits
	f.Add(fuzzSecret, "+12345", now, int64(0))
	f.Add(fuzzSecret, "12 345", now, int64(0))
	f.Add("", "123456", now, int64(0))
	f.Add("GEZDGNBV", "123456", now, int64(0))
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", "123456", now, int64(0))
	f.Add(fuzzSecret, "000000", int64(0), int64(-1))
	f.Add(fuzzSecret, "000000", int64(-31), int64(-5))
	f.Add(fuzzSecret, "000000", int64(1<<62), int64(0))
	f.Fuzz(func(t *testing.T, secret, code string, unix, lastStep int64) {
		at := time.Unix(unix, 0)
		got, err := totp.Verify(secret, code, at, lastStep)
		trimmed := strings.TrimSpace(code)
		wellFormed := len(code) <= 64 && len(trimmed) == totp.Digits && strings.Trim(trimmed, "0123456789") == ""
		if err != nil {
			n := 0
			for _, e := range []error{totp.ErrMalformed, totp.ErrInvalid, totp.ErrReplayed, totp.ErrSecret} {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("Verify(%q, %q): error %v is not exactly one sentinel", secret, code, err)
			}
			if got != 0 {
				t.Fatalf("Verify(%q, %q): step %d with error %v, want 0", secret, code, got, err)
			}
			if errors.Is(err, totp.ErrMalformed) == wellFormed {
				t.Fatalf("Verify(%q, %q): error %v, but the code is well-formed=%v", secret, code, err, wellFormed)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("Verify(%q, %q) accepted a malformed code", secret, code)
		}
		cs := totp.Step(at)
		if got < cs-totp.Skew || got > cs+totp.Skew || got <= lastStep || got < 0 {
			t.Fatalf("Verify(%q, %q, step %d, lastStep %d) accepted step %d", secret, code, cs, lastStep, got)
		}
		want, err := totp.Code(secret, time.Unix(got*int64(totp.Period/time.Second), 0))
		if err != nil || want != trimmed {
			t.Fatalf("Verify(%q, %q) accepted step %d whose code is %q (%v)", secret, code, got, want, err)
		}
	})
}

// FuzzDecrypt checks that Cipher.Decrypt never panics, that every failure
// wraps ErrDecrypt, that it opens the ciphertexts the Cipher made, and that
// whatever it opens is one of them: "v1.<known key ID>.<canonical unpadded
// base64url>" of a plaintext that was encrypted (Encrypt is randomised, so
// seeds written by another run are genuine too; no other spelling of them
// is accepted).
func FuzzDecrypt(f *testing.F) {
	c, err := totp.NewCipher([]totp.Key{
		{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)},
		{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)},
	})
	if err != nil {
		f.Fatal(err)
	}
	old, err := totp.NewCipher([]totp.Key{{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}})
	if err != nil {
		f.Fatal(err)
	}
	plains := map[string]bool{fuzzSecret: true, "": true, "x": true}
	genuine := map[string]string{}
	for p := range plains {
		for _, ci := range []*totp.Cipher{c, old} {
			ct, err := ci.Encrypt(p)
			if err != nil {
				f.Fatal(err)
			}
			genuine[ct] = p
		}
	}
	for ct := range genuine {
		f.Add(ct)
		f.Add(ct + "A")
		f.Add(ct[:len(ct)-1])
		f.Add(strings.Replace(ct, "k", "K", 1))
	}
	for _, s := range []string{"", "v1", "v1.", "v1..", "v1.k1.", "v1.k1.AAAA", "v2.k1.AAAA", "v1.k3.AAAA", "v1.k1.AA\nAA", "v1.k1.AA==", "v1.k1.+/+/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		plain, err := c.Decrypt(ct)
		if want, ok := genuine[ct]; ok && (err != nil || plain != want) {
			t.Fatalf("Decrypt(%q) = %q, %v; want %q, nil", ct, plain, err, want)
		}
		if err != nil {
			if !errors.Is(err, totp.ErrDecrypt) || plain != "" {
				t.Fatalf("Decrypt(%q) = %q, %v; want \"\" and an error wrapping ErrDecrypt", ct, plain, err)
			}
			return
		}
		if !plains[plain] {
			t.Fatalf("Decrypt(%q) = %q, a plaintext never encrypted", ct, plain)
		}
		parts := strings.Split(ct, ".")
		if len(parts) != 3 || parts[0] != "v1" || (parts[1] != "k1" && parts[1] != "k2") {
			t.Fatalf("Decrypt(%q) = %q: accepted a ciphertext of another shape", ct, plain)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || base64.RawURLEncoding.EncodeToString(raw) != parts[2] {
			t.Fatalf("Decrypt(%q) = %q: accepted a non-canonical encoding", ct, plain)
		}
	})
}

package password_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/authsys-go/authsys/internal/password"
)

// cheap are argon2id parameters that hash in well under a millisecond.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestDefaultParams(t *testing.T) {
	want := password.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got := password.DefaultParams(); got != want {
		t.Errorf("got DefaultParams %+v, want %+v", got, want)
	}
	if got := password.NewHasher(password.Params{}, 1).Params(); got != want {
		t.Errorf("got NewHasher(Params{}).Params() %+v, want %+v", got, want)
	}
	if got := password.NewHasher(password.Params{Memory: 64, Iterations: 1}, 1).Params(); got != (password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}) {
		t.Errorf("got partly zero Params filled as %+v, want defaults in zero fields only", got)
	}
}

func TestHashVerifyDefaultParams(t *testing.T) {
	h := password.NewHasher(password.DefaultParams(), 0)
	encoded, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("got %q, want prefix %q", encoded, prefix)
	}
	fields := strings.Split(strings.TrimPrefix(encoded, prefix), "$")
	if len(fields) != 2 {
		t.Fatalf("got %d fields after the params, want salt and hash", len(fields))
	}
	for i, want := range []int{16, 32} {
		b, err := base64.RawStdEncoding.Strict().DecodeString(fields[i])
		if err != nil || len(b) != want {
			t.Errorf("field %d: got %d bytes (err %v), want %d bytes of unpadded base64", i, len(b), err, want)
		}
	}
	ok, needsRehash, err := h.Verify(t.Context(), "correct horse battery staple", encoded)
	if err != nil || !ok || needsRehash {
		t.Errorf("right password: got ok=%v needsRehash=%v err=%v, want true false nil", ok, needsRehash, err)
	}
	ok, _, err = h.Verify(t.Context(), "correct horse battery stapler", encoded)
	if err != nil || ok {
		t.Errorf("wrong password: got ok=%v err=%v, want false nil", ok, err)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := password.NewHasher(cheap, 0)
	tests := []struct {
		name, password, wrong string
	}{
		{"ascii", "correct horse battery staple", "correct horse battery stapl"},
		{"empty", "", " "},
		{"unicode", "pässwörd-ünïcode ✓", "passwörd-ünïcode ✓"},
		{"case", "Password", "password"},
		{"nul byte", "abc\x00def", "abc"},
		{"long", strings.Repeat("x", 1024), strings.Repeat("x", 1023)},
		{"longer than bcrypt", strings.Repeat("y", 100), strings.Repeat("y", 73)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(t.Context(), tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
				t.Errorf("got %q, want prefix %q", encoded, want)
			}
			ok, needsRehash, err := h.Verify(t.Context(), tt.password, encoded)
			if err != nil || !ok || needsRehash {
				t.Errorf("right password: got ok=%v needsRehash=%v err=%v, want true false nil", ok, needsRehash, err)
			}
			ok, _, err = h.Verify(t.Context(), tt.wrong, encoded)
			if err != nil || ok {
				t.Errorf("wrong password: got ok=%v err=%v, want false nil", ok, err)
			}
			again, err := h.Hash(t.Context(), tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if again == encoded {
				t.Errorf("got the same encoding twice (%q), want a fresh salt each time", encoded)
			}
		})
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	const pw = "correct horse battery staple"
	current := password.NewHasher(cheap, 0)
	tests := []struct {
		name   string
		params password.Params
	}{
		{"memory", password.Params{Memory: 128, Iterations: 1, Parallelism: 1}},
		{"iterations", password.Params{Memory: 64, Iterations: 2, Parallelism: 1}},
		{"parallelism", password.Params{Memory: 64, Iterations: 1, Parallelism: 2}},
		{"salt length", password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 8}},
		{"key length", password.Params{Memory: 64, Iterations: 1, Parallelism: 1, KeyLength: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := password.NewHasher(tt.params, 0).Hash(t.Context(), pw)
			if err != nil {
				t.Fatal(err)
			}
			ok, needsRehash, err := current.Verify(t.Context(), pw, old)
			if err != nil || !ok || !needsRehash {
				t.Errorf("got ok=%v needsRehash=%v err=%v, want true true nil", ok, needsRehash, err)
			}
		})
	}

	// The same parameters in a format other than ours also need a rehash.
	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding.EncodeToString
	foreign := map[string]string{
		"argon2i": fmt.Sprintf("$argon2i$v=19$m=64,t=1,p=1$%s$%s", b64(salt),
			b64(argon2.Key([]byte(pw), salt, 1, 64, 1, 32))),
		"django argon2id": fmt.Sprintf("argon2$argon2id$v=19$m=64,t=1,p=1$%s$%s", b64(salt),
			b64(argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32))),
	}
	for name, encoded := range foreign {
		t.Run(name, func(t *testing.T) {
			ok, needsRehash, err := current.Verify(t.Context(), pw, encoded)
			if err != nil || !ok || !needsRehash {
				t.Errorf("got ok=%v needsRehash=%v err=%v, want true true nil", ok, needsRehash, err)
			}
			ok, _, err = current.Verify(t.Context(), pw+"!", encoded)
			if err != nil || ok {
				t.Errorf("wrong password: got ok=%v err=%v, want false nil", ok, err)
			}
		})
	}
}

// bcryptHash returns a cost-4 bcrypt hash of pw, failing the test on error.
func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyBcrypt(t *testing.T) {
	h := password.NewHasher(cheap, 0)
	long := strings.Repeat("z", 72)
	sum := sha256.Sum256([]byte(long + "tail"))
	plain := bcryptHash(t, long)
	prehashed := bcryptHash(t, hex.EncodeToString(sum[:]))
	tests := []struct {
		name, password, encoded string
		want                    bool
	}{
		{"bare", long, plain, true},
		{"bare truncates at 72 bytes", long + "anything", plain, true},
		{"bare wrong", long[:71], plain, false},
		{"bare 2y", long, "$2y$" + plain[4:], true},
		{"bare 2a", long, "$2a$" + plain[4:], true},
		{"django bcrypt", long + "more", "bcrypt$" + plain, true},
		{"django bcrypt_sha256", long + "tail", "bcrypt_sha256$" + prehashed, true},
		{"django bcrypt_sha256 does not truncate", long + "tail!", "bcrypt_sha256$" + prehashed, false},
		{"django bcrypt_sha256 is not plain bcrypt", long + "tail", "bcrypt_sha256$" + plain, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, needsRehash, err := h.Verify(t.Context(), tt.password, tt.encoded)
			if err != nil || ok != tt.want || !needsRehash {
				t.Errorf("got ok=%v needsRehash=%v err=%v, want %v true nil", ok, needsRehash, err, tt.want)
			}
		})
	}
}

func TestVerifyTampered(t *testing.T) {
	const pw = "correct horse battery staple"
	h := password.NewHasher(cheap, 0)
	encoded, err := h.Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	saltStart := strings.LastIndex(encoded[:strings.LastIndex(encoded, "$")], "$") + 1
	checked := 0
	// Replace every character of salt and hash by another base64 character.
	for i := saltStart; i < len(encoded); i++ {
		if encoded[i] == '$' {
			continue
		}
		c := alphabet[(strings.IndexByte(alphabet, encoded[i])+17)%len(alphabet)]
		tampered := encoded[:i] + string(c) + encoded[i+1:]
		ok, _, err := h.Verify(t.Context(), pw, tampered)
		if ok {
			t.Errorf("position %d: got ok for %q, want a mismatch", i, tampered)
		}
		if err != nil && !errors.Is(err, password.ErrUnknownFormat) {
			t.Errorf("position %d: got error %v, want nil or ErrUnknownFormat", i, err)
		}
		checked++
	}
	if want := 22 + 43; checked != want {
		t.Errorf("got %d tampered positions, want %d", checked, want)
	}
	// Other parameters than the hash was made with.
	for _, params := range []string{"m=65,t=1,p=1", "m=64,t=2,p=1", "m=64,t=1,p=2"} {
		tampered := strings.Replace(encoded, "m=64,t=1,p=1", params, 1)
		ok, _, err := h.Verify(t.Context(), pw, tampered)
		if ok || err != nil {
			t.Errorf("params %s: got ok=%v err=%v, want false nil", params, ok, err)
		}
	}
	// The same key presented as argon2i.
	ok, _, err := h.Verify(t.Context(), pw, strings.Replace(encoded, "$argon2id$", "$argon2i$", 1))
	if ok || err != nil {
		t.Errorf("as argon2i: got ok=%v err=%v, want false nil", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "MDEyMzQ1Njc4OWFiY2RlZg"                      // 16 bytes
		key  = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY" // 32 bytes
		b53  = "qwesceSXzHqWkQEXslaen.CJZxxI3kG81USUrKeso6tM1lHdB0ouu"
		pb   = "cd6IK1FROrV+IB3l6uIohXQUGcFIWxfZTD34XTKhbxU="
	)
	argon := func(s string) string { return "$argon2id$v=19$" + s }
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"plain text", "hunter22"},
		{"dollar only", "$"},
		{"argon2id prefix only", "$argon2id$"},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"extra field", argon("m=64,t=1,p=1$" + salt + "$" + key + "$x")},
		{"missing hash", argon("m=64,t=1,p=1$" + salt)},
		{"params out of order", argon("t=1,m=64,p=1$" + salt + "$" + key)},
		{"extra param", argon("m=64,t=1,p=1,keyid=1$" + salt + "$" + key)},
		{"memory 2 GiB", argon("m=2097152,t=1,p=1$" + salt + "$" + key)},
		{"memory overflow", argon("m=4294967296,t=1,p=1$" + salt + "$" + key)},
		{"memory below 8p", argon("m=15,t=1,p=2$" + salt + "$" + key)},
		{"iterations 0", argon("m=64,t=0,p=1$" + salt + "$" + key)},
		{"iterations 10000", argon("m=64,t=10000,p=1$" + salt + "$" + key)},
		{"work above limit", argon("m=1048576,t=5,p=1$" + salt + "$" + key)},
		{"parallelism 0", argon("m=64,t=1,p=0$" + salt + "$" + key)},
		{"parallelism 256", argon("m=4096,t=1,p=256$" + salt + "$" + key)},
		{"negative", argon("m=-64,t=1,p=1$" + salt + "$" + key)},
		{"plus sign", argon("m=+64,t=1,p=1$" + salt + "$" + key)},
		{"leading zero", argon("m=064,t=1,p=1$" + salt + "$" + key)},
		{"padded salt", argon("m=64,t=1,p=1$" + salt + "==$" + key)},
		{"newline in salt", argon("m=64,t=1,p=1$" + salt[:10] + "\n" + salt[10:] + "$" + key)},
		{"non-canonical salt bits", argon("m=64,t=1,p=1$" + salt[:21] + "h$" + key)},
		{"url-safe alphabet", argon("m=64,t=1,p=1$" + salt + "$" + strings.ReplaceAll(key, "M", "-"))},
		{"salt 4 bytes", argon("m=64,t=1,p=1$AAAAAA$" + key)},
		{"hash 3 bytes", argon("m=64,t=1,p=1$" + salt + "$AAAA")},
		{"empty salt", argon("m=64,t=1,p=1$$" + key)},
		{"django argon2 without inner prefix", "argon2$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"django argon2 double dollar", "argon2$$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"pbkdf2 unknown digest", "pbkdf2_md5$1000$salt$" + pb},
		{"pbkdf2 iterations 0", "pbkdf2_sha256$0$salt$" + pb},
		{"pbkdf2 iterations 10M+1", "pbkdf2_sha256$10000001$salt$" + pb},
		{"pbkdf2 iterations huge", "pbkdf2_sha256$99999999999999999999$salt$" + pb},
		{"pbkdf2 iterations not a number", "pbkdf2_sha256$many$salt$" + pb},
		{"pbkdf2 empty salt", "pbkdf2_sha256$1000$$" + pb},
		{"pbkdf2 missing field", "pbkdf2_sha256$1000$" + pb},
		{"pbkdf2 sha1 with sha256 length", "pbkdf2_sha1$1000$salt$" + pb},
		{"pbkdf2 unpadded hash", "pbkdf2_sha256$1000$salt$" + strings.TrimSuffix(pb, "=")},
		{"pbkdf2 bad base64", "pbkdf2_sha256$1000$salt$" + strings.Repeat("!", 44)},
		{"bcrypt cost 31", "$2b$31$" + b53},
		{"bcrypt cost 17", "$2b$17$" + b53},
		{"bcrypt cost 3", "$2b$03$" + b53},
		{"bcrypt cost letters", "$2b$1x$" + b53},
		{"bcrypt version 2x", "$2x$12$" + b53},
		{"bcrypt version 3", "$3b$12$" + b53},
		{"bcrypt short", "$2b$12$" + b53[:52]},
		{"bcrypt long", "$2b$12$" + b53 + "u"},
		{"bcrypt bad character", "$2b$12$" + b53[:52] + "+"},
		{"bcrypt missing dollar", "$2b$12x" + b53},
		{"django bcrypt empty", "bcrypt$"},
		{"django bcrypt single dollar", "bcrypt$2b$12$" + b53},
		{"django bcrypt_sha256 wrong inner", "bcrypt_sha256$$2x$12$" + b53},
		{"too long", argon("m=64,t=1,p=1$" + strings.Repeat("A", 5000) + "$" + key)},
	}
	h := password.NewHasher(cheap, 1)
	// With the only slot held and a cancelled context, anything Verify
	// tried to compute would fail with ErrBusy: ErrUnknownFormat proves
	// each input was refused before any work.
	release, err := h.HoldSlot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, needsRehash, err := h.Verify(ctx, "correct horse battery staple", tt.encoded)
			if !errors.Is(err, password.ErrUnknownFormat) {
				t.Errorf("got error %v, want ErrUnknownFormat", err)
			}
			if ok || needsRehash {
				t.Errorf("got ok=%v needsRehash=%v, want false false", ok, needsRehash)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name   string
		params password.Params
		valid  bool
	}{
		{"zero means defaults", password.Params{}, true},
		{"defaults", password.DefaultParams(), true},
		{"cheap", cheap, true},
		{"memory 1 GiB", password.Params{Memory: 1 << 20, Iterations: 1}, true},
		{"memory above 1 GiB", password.Params{Memory: 1<<20 + 1, Iterations: 1}, false},
		{"memory below 8p", password.Params{Memory: 15, Parallelism: 2}, false},
		{"iterations above limit", password.Params{Memory: 64, Iterations: password.MaxArgon2Iterations + 1}, false},
		{"work above limit", password.Params{Memory: 1 << 20, Iterations: 5}, false},
		{"salt 7 bytes", password.Params{SaltLength: 7}, false},
		{"salt 8 bytes", password.Params{SaltLength: 8}, true},
		{"key 3 bytes", password.Params{KeyLength: 3}, false},
		{"key 1025 bytes", password.Params{KeyLength: 1025}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			if (err == nil) != tt.valid {
				t.Errorf("got Validate() = %v, want valid=%v", err, tt.valid)
			}
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				password.NewHasher(tt.params, 1)
				return false
			}()
			if panicked == tt.valid {
				t.Errorf("got NewHasher panicked=%v, want %v", panicked, !tt.valid)
			}
		})
	}
}

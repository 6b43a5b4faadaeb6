package password_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authsys-go/authsys/internal/password"
)

// FuzzVerify checks that Verify never panics on an arbitrary stored hash,
// that every failure wraps ErrUnknownFormat and comes with ok and
// needsRehash false, that a hash it accepts for a password it refuses for
// another (one differing in its first byte: bcrypt reads only 72 bytes),
// and that a fresh hash of any password verifies. The hasher's limits are
// low so that no input (a hash naming a huge cost) takes long; the parsing
// is the same as with the default limits.
func FuzzVerify(f *testing.F) {
	for _, v := range loadDjangoVectors(f) {
		f.Add(v.Password, v.Encoded)
	}
	for _, s := range []string{
		"",
		"$",
		"$$$$$$",
		"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
		"$argon2i$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
		"argon2$argon2id$v=19$m=32,t=1,p=4$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAA",
		"$argon2id$v=19$m=0,t=0,p=0$$",
		"pbkdf2_sha256$1$s$cd6IK1FROrV+IB3l6uIohXQUGcFIWxfZTD34XTKhbxU=",
		"pbkdf2_sha1$2$salt$nxyrPwzKobkHBtE0kE1IFTPVk5A=",
		"$2b$04$qwesceSXzHqWkQEXslaen.CJZxxI3kG81USUrKeso6tM1lHdB0ouu",
		"bcrypt_sha256$$2a$04$qwesceSXzHqWkQEXslaen.CJZxxI3kG81USUrKeso6tM1lHdB0ouu",
		"bcrypt$$2y$05$qwesceSXzHqWkQEXslaen.CJZxxI3kG81USUrKeso6tM1lHdB0ouu",
	} {
		f.Add("correct horse battery staple", s)
	}
	// Low cost limits keep every input fast; the parsing is the same.
	h := password.NewHasherWithLimits(cheap, 0, 256, 1000, 5)
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		// When the fuzzing time runs out, the input in flight sees its
		// context end: that is no finding.
		ended := func(err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				t.Skip("the fuzzing run ended during this input")
			}
		}
		ok, needsRehash, err := h.Verify(t.Context(), pw, encoded)
		ended(err)
		if ok {
			other := "x"
			if pw != "" {
				other = string(pw[0]^1) + pw[1:]
			}
			ok2, _, err := h.Verify(t.Context(), other, encoded)
			ended(err)
			if ok2 || err != nil {
				t.Fatalf("Verify(%q) accepts both %q and %q (err %v)", encoded, pw, other, err)
			}
		}
		if err != nil {
			if !errors.Is(err, password.ErrUnknownFormat) {
				t.Fatalf("got error %v, want nil or ErrUnknownFormat", err)
			}
			if ok || needsRehash {
				t.Fatalf("got ok=%v needsRehash=%v with an error, want false false", ok, needsRehash)
			}
		}
		fresh, err := h.Hash(t.Context(), pw)
		ended(err)
		if err != nil {
			t.Fatal(err)
		}
		ok, needsRehash, err = h.Verify(t.Context(), pw, fresh)
		ended(err)
		if err != nil || !ok || needsRehash {
			t.Fatalf("round trip: got ok=%v needsRehash=%v err=%v, want true false nil", ok, needsRehash, err)
		}
	})
}

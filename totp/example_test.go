package totp_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/totp"
)

func ExampleVerify() {
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" // decrypted from store.User.TOTPSecret
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	code, _ := totp.Code(secret, now) // what the authenticator app shows

	var lastStep int64 // store.User.TOTPLastStep, updated inside UserStore.UpdateUser
	step, err := totp.Verify(secret, code, now, lastStep)
	fmt.Println(step, err)
	lastStep = step

	_, err = totp.Verify(secret, code, now, lastStep)
	fmt.Println(errors.Is(err, totp.ErrReplayed))
	// Output:
	// 58910768 <nil>
	// true
}

func ExampleURI() {
	fmt.Println(totp.URI("ACME Co", "alice@example.com", "JBSWY3DPEHPK3PXP"))
	// Output:
	// otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30
}

func ExampleCipher() {
	c, err := totp.NewCipher([]totp.Key{
		{ID: "2026", Secret: []byte("new key: 32+ bytes of random material")},
		{ID: "2025", Secret: []byte("old key: still decrypts older secrets")},
	})
	if err != nil {
		panic(err)
	}
	secret, _ := totp.GenerateSecret(rand.Reader)
	stored, _ := c.Encrypt(secret) // "v1.2026.…", kept in store.User.TOTPSecret
	back, err := c.Decrypt(stored)
	fmt.Println(back == secret, err)
	// Output: true <nil>
}

func ExampleGenerateBackupCodes() {
	key := []byte("deployment secret, 32+ random bytes") // a Config field
	codes, _ := totp.GenerateBackupCodes(rand.Reader, 10)
	// Show codes once; store only their hashes.
	hashes := make([]string, len(codes))
	for i, c := range codes {
		norm, _ := totp.NormalizeBackupCode(c)
		hashes[i] = totp.HashBackupCode(key, norm)
	}
	// Later, as the user types one in:
	typed, ok := totp.NormalizeBackupCode(" " + codes[3] + " ")
	fmt.Println(ok, totp.MatchBackupCode(key, typed, hashes[3]))
	// Output: true true
}

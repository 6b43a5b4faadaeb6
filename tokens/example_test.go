package tokens_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/tokens"
)

func Example() {
	m, err := tokens.NewManager(tokens.Options{
		// In production the secret is 32 or more random bytes kept outside
		// the code.
		Keys: []tokens.Key{{ID: "2030-01", Secret: []byte("0123456789abcdef0123456789abcdef")}},
	})
	if err != nil {
		panic(err)
	}
	access, err := m.Sign(m.NewClaims(tokens.TypeAccess, "user-42", 1, tokens.NewID()))
	if err != nil {
		panic(err)
	}

	c, err := m.Parse(access, tokens.TypeAccess)
	fmt.Println(c.Type, c.Subject, c.TokenVersion, err)

	_, err = m.Parse(access, tokens.TypeRefresh)
	fmt.Println(errors.Is(err, tokens.ErrInvalid))
	// Output:
	// access user-42 1 <nil>
	// true
}

func ExampleManager_SignOneTime() {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	m, err := tokens.NewManager(tokens.Options{
		Keys: []tokens.Key{{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}},
		Now:  func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	// The state is a fingerprint of what the action changes: once the
	// password (hash) changes, the reset link is dead.
	state := "argon2id$v=19$...old-hash"
	tok := m.SignOneTime("password_reset", "user-42", state, time.Hour)

	fmt.Println(m.VerifyOneTime(tok, "password_reset", "user-42", state))
	fmt.Println(errors.Is(m.VerifyOneTime(tok, "password_reset", "user-42", "argon2id$v=19$...new-hash"), tokens.ErrInvalid))
	fmt.Println(errors.Is(m.VerifyOneTime(tok, "verify_account", "user-42", state), tokens.ErrInvalid))

	now = now.Add(2 * time.Hour)
	fmt.Println(errors.Is(m.VerifyOneTime(tok, "password_reset", "user-42", state), tokens.ErrExpired))
	// Output:
	// <nil>
	// true
	// true
	// true
}

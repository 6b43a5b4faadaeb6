package password_test

import (
	"context"
	"fmt"

	"github.com/authsys-go/authsys/internal/password"
)

func ExampleHasher() {
	ctx := context.Background()
	h := password.NewHasher(password.DefaultParams(), 0)

	encoded, err := h.Hash(ctx, "violet-otter-sings-42")
	if err != nil {
		fmt.Println(err) // ErrBusy when no slot frees before ctx ends
		return
	}
	ok, needsRehash, err := h.Verify(ctx, "violet-otter-sings-42", encoded)
	fmt.Println(ok, needsRehash, err)

	// A hash written by Django's PBKDF2PasswordHasher verifies and asks to
	// be replaced by an argon2id one.
	django := "pbkdf2_sha256$260000$6M6L7ectvZC7Sg0VnyRIcH$cd6IK1FROrV+IB3l6uIohXQUGcFIWxfZTD34XTKhbxU="
	ok, needsRehash, err = h.Verify(ctx, "correct horse battery staple", django)
	fmt.Println(ok, needsRehash, err)
	// Output:
	// true false <nil>
	// true true <nil>
}

func ExampleValidate() {
	fmt.Println(password.Validate("alice", "alice@example.com"))
	fmt.Println(password.Validate("violet-otter-sings-42", "alice@example.com") == nil)
	// Output:
	// [password_too_short password_too_similar password_too_common]
	// true
}

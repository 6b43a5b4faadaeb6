package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

func ExampleNew() {
	ctx := context.Background()
	s := memory.New()

	u, err := s.CreateUser(ctx, store.User{
		Email:      store.NormalizeEmail(" Alice@Example.com "),
		DateJoined: time.Now(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	found, err := s.UserByEmail(ctx, "alice@example.com")
	fmt.Println(found.ID == u.ID, found.Email, err)

	// The same Store keeps short-lived state.
	n, _, _ := s.IncrPending(ctx, "login-attempts:alice@example.com", time.Minute)
	fmt.Println(n)
	// Output:
	// true alice@example.com <nil>
	// 1
}

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/sqlite"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "authsys-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(filepath.Join(dir, "authsys.db")) // creates the tables
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.User{Email: "ada@example.com", PasswordHash: "$argon2id$..."})
	if err != nil {
		log.Fatal(err)
	}
	_, err = st.CreateUser(ctx, store.User{Email: "ADA@example.com"})
	fmt.Println(errors.Is(err, store.ErrEmailTaken))

	if err := st.PutPending(ctx, "2fa:session", []byte(u.ID), 5*time.Minute); err != nil {
		log.Fatal(err)
	}
	id, err := st.TakePending(ctx, "2fa:session")
	fmt.Println(string(id) == u.ID, err)
	_, err = st.TakePending(ctx, "2fa:session")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// true
	// true <nil>
	// true
}

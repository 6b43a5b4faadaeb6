package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authsys-go/authsys/store/postgres"
)

func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	st := postgres.New(pool, postgres.WithSchema("authsys"))
	// Migrate at every start: it is idempotent and safe to run from several
	// instances at once.
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// st is a store.UserStore, a store.UserLister and a store.PendingStore.
	_ = st
}

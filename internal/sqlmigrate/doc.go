// Package sqlmigrate loads the numbered SQL migration files that the SQL
// stores (store/postgres, store/sqlite) embed, so that the naming rule and
// the ordering are written once. Applying the migrations stays with each
// store, since the SQL that records them differs by database.
package sqlmigrate

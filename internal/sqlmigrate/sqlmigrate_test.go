package sqlmigrate_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/authsys-go/authsys/internal/sqlmigrate"
)

func TestLoadOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql":   {Data: []byte("SELECT 10;")},
		"m/0002_second.sql":  {Data: []byte("SELECT 2;")},
		"m/0001_init.sql":    {Data: []byte("SELECT 1;")},
		"m/README.md":        {Data: []byte("not a migration")},
		"other/0003_x.sql":   {Data: []byte("elsewhere")},
		"m/sub/0004_sub.sql": {Data: []byte("in a subdirectory")},
	}
	migs, err := sqlmigrate.Load(fsys, "m")
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	want := []sqlmigrate.Migration{
		{Version: 1, Name: "0001_init.sql", SQL: "SELECT 1;"},
		{Version: 2, Name: "0002_second.sql", SQL: "SELECT 2;"},
		{Version: 10, Name: "0010_later.sql", SQL: "SELECT 10;"},
	}
	if len(migs) != len(want) {
		t.Fatalf("Load: got %d migrations %+v, want %d", len(migs), migs, len(want))
	}
	for i := range want {
		if migs[i] != want[i] {
			t.Errorf("Load()[%d]: got %+v, want %+v", i, migs[i], want[i])
		}
	}
}

func TestLoadEmptyDirectory(t *testing.T) {
	migs, err := sqlmigrate.Load(fstest.MapFS{}, "m")
	if err != nil || len(migs) != 0 {
		t.Errorf("Load(empty): got %d migrations, error %v; want 0, nil", len(migs), err)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"no version", []string{"m/init.sql"}, "init.sql: name does not start with a version"},
		{"no underscore", []string{"m/0001.sql"}, "0001.sql: name does not start with a version"},
		{"zero version", []string{"m/0000_init.sql"}, "0000_init.sql: name does not start with a version"},
		{"negative version", []string{"m/-1_init.sql"}, "-1_init.sql: name does not start with a version"},
		{"shared version", []string{"m/0001_a.sql", "m/01_b.sql"}, "share a version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			migs, err := sqlmigrate.Load(fsys, "m")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q): got %d migrations, error %v; want an error containing %q", tt.files, len(migs), err, tt.want)
			}
		})
	}
}

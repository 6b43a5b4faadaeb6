package sqlmigrate

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one SQL file.
type Migration struct {
	// Version is the number the file name starts with; positive and
	// unique among the files.
	Version int64
	// Name is the file's base name, such as "0001_init.sql".
	Name string
	// SQL is the file's content.
	SQL string
}

// Load returns the migrations in the directory dir of fsys (every file
// matching dir/*.sql), ordered by version. A file is named
// NNNN_description.sql, NNNN being its version: a file whose name does
// not start with a positive version followed by an underscore, or two
// files with one version, make Load fail. It is safe for concurrent use
// when fsys is, as an embed.FS is.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var migs []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name does not start with a version", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		migs = append(migs, Migration{Version: version, Name: base, SQL: string(body)})
	}
	slices.SortFunc(migs, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i := 1; i < len(migs); i++ {
		if migs[i].Version == migs[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", migs[i-1].Name, migs[i].Name)
		}
	}
	return migs, nil
}

//go:build !go1.26

package main

import (
	"os"
	"testing"
)

// artifactDir is where a test writes its screenshots: before Go 1.26,
// which has testing's artifact directory, a directory under os.TempDir
// that is kept (the test logs its name).
func artifactDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "authsys-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

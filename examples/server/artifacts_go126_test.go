//go:build go1.26

package main

import "testing"

// artifactDir is where a test writes its screenshots: testing's artifact
// directory, kept with go test -artifacts (under -outputdir, by default
// the package directory), removed after the test otherwise.
func artifactDir(t *testing.T) string {
	return t.ArtifactDir()
}

package authsys_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the root test suite, then fails the run if any secret that
// any test's calls carried appears in any log record or event captured
// during the run (see secrets_capture_test.go). The per-test check at
// cleanup names the test; this sweep also covers records written after a
// test ended and secrets shared between tests.
func TestMain(m *testing.M) {
	code := m.Run()
	found, nSecrets, nRecords := secretsSweep()
	if len(found) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d secret(s) of %d appear in the %d captured log records and events:\n", len(found), nSecrets, nRecords)
		for _, f := range found {
			fmt.Fprintln(os.Stderr, "  ", f)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "secrets check: none of %d secrets appears in %d log records and events\n", nSecrets, nRecords)
	}
	os.Exit(code)
}

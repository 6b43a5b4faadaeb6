// Package testenv decides what a test does when a service or tool it needs
// (Redis, PostgreSQL, oathtool) is missing: it skips with a message saying
// how to provide it, or, when AUTHSYS_TEST_NO_SKIP is set (.ci/run sets
// it), it fails, so that CI cannot pass with those tests silently skipped.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// NoSkipEnv names the environment variable that turns skips into failures.
const NoSkipEnv = "AUTHSYS_TEST_NO_SKIP"

// Skip skips tb with the message made of args, or fails it under NoSkipEnv.
func Skip(tb testing.TB, args ...any) {
	tb.Helper()
	if os.Getenv(NoSkipEnv) != "" {
		tb.Fatalf("%s is set, so this test may not skip: %s", NoSkipEnv, fmt.Sprint(args...))
	}
	tb.Skip(args...)
}

// Skipf is Skip with a format.
func Skipf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	Skip(tb, fmt.Sprintf(format, args...))
}

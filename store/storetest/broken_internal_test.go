package storetest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// brokenCase is one defect of a reference implementation and the case of
// the suite that must fail on it.
type brokenCase struct{ broken, failingCase string }

// failsBroken runs the test named test again, as a child process of this
// test binary, once per case with the environment variable env naming its
// defect, and requires the case named to fail: a suite that passes a
// broken implementation proves nothing. what names the implementation in
// messages ("store", "notifier"); with only, the child runs the failing
// case alone (for a suite whose failing waits are slow).
func failsBroken(t *testing.T, test, env, what string, cases []brokenCase, only bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, tt := range cases {
		t.Run(tt.broken+"/"+tt.failingCase, func(t *testing.T) {
			t.Parallel()
			run := "-test.run=^" + test + "$"
			if only {
				run += "/^" + tt.failingCase + "$"
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], run, "-test.count=1")
			cmd.Env = append(os.Environ(), env+"="+tt.broken)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite on the %s that %s: got error %v, want a failing run\n%s", what, tt.broken, err, out)
			}
			want := "--- FAIL: " + test + "/" + tt.failingCase + " "
			if !strings.Contains(string(out), want) {
				t.Errorf("suite on the %s that %s: got no %q line, want case %s to fail\n%s", what, tt.broken, strings.TrimSpace(want), tt.failingCase, out)
			}
		})
	}
}

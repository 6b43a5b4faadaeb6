package storetest_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store/storetest"
)

// safeName is what UniqueName promises: usable unquoted as a PostgreSQL
// identifier (with room for a prefix), a Redis key part or a file name.
var safeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,37}$`)

func TestFreshGivesEachSubtestAUniqueSafeName(t *testing.T) {
	owner := map[string]string{} // name -> test that got it
	newStore := storetest.Fresh(func(t *testing.T, name string) string {
		if prev, dup := owner[name]; dup {
			t.Errorf("name %q: got it for %s too, want one per call", name, prev)
		}
		owner[name] = t.Name()
		return name
	})
	subtests := []string{
		"Plain", "Plain", "with space/and slash", `quote"; DROP SCHEMA public; --`,
		"ÜnïcödéÄÖ", "a-very-long-subtest-name-that-goes-on-and-on-and-on-forever-and-ever", "", "123starts_with_digits",
	}
	for _, name := range subtests {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				if got := newStore(t); !safeName.MatchString(got) {
					t.Errorf("Fresh name: got %q, want one matching %s", got, safeName)
				}
			}
		})
	}
	if got, want := len(owner), 2*len(subtests); got != want {
		t.Errorf("distinct names: got %d, want %d", got, want)
	}
}

func TestUniqueNameKeepsTheSubtestName(t *testing.T) {
	t.Run("Round Trip/x", func(t *testing.T) {
		if got := storetest.UniqueName(t); !regexp.MustCompile(`^tx_[0-9a-f]{16}$`).MatchString(got) {
			t.Errorf("UniqueName: got %q, want %q followed by 16 hex digits", got, "tx_")
		}
	})
	t.Run("Round Trip", func(t *testing.T) {
		if got := storetest.UniqueName(t); !regexp.MustCompile(`^tround_trip_[0-9a-f]{16}$`).MatchString(got) {
			t.Errorf("UniqueName: got %q, want %q followed by 16 hex digits", got, "tround_trip_")
		}
	})
}

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	c := storetest.NewClock()
	start := c.Now()
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now without Advance: got %v, want %v", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now().Sub(start), 90*time.Second; got != want {
		t.Errorf("Now after Advance(90s): got start+%v, want start+%v", got, want)
	}
}

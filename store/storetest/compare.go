package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// normalizeUser returns u in the form the suite compares: times truncated
// to microseconds in UTC without a monotonic reading, and an empty
// BackupCodes slice or Profile as nil. Stores may drop sub-microsecond precision, the
// monotonic clock and the location.
func normalizeUser(u store.User) store.User {
	u = u.Clone()
	u.DateJoined = normalizeTime(u.DateJoined)
	u.LastLogin = normalizeTime(u.LastLogin)
	if len(u.BackupCodes) == 0 {
		u.BackupCodes = nil
	}
	if len(u.Profile) == 0 {
		u.Profile = nil
	}
	for i := range u.BackupCodes {
		u.BackupCodes[i].UsedAt = normalizeTime(u.BackupCodes[i].UsedAt)
	}
	return u
}

func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// checkUser reports every field of got that differs from want.
func checkUser(t *testing.T, label string, got, want store.User) {
	t.Helper()
	g, w := reflect.ValueOf(normalizeUser(got)), reflect.ValueOf(normalizeUser(want))
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s: User.%s: got %+v, want %+v", label, g.Type().Field(i).Name, gf, wf)
		}
	}
}

// wholeMicro returns t without its sub-microsecond part, keeping its
// monotonic reading and location.
func wholeMicro(t time.Time) time.Time {
	return t.Add(-time.Duration(t.Nanosecond() % 1000))
}

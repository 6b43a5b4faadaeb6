package storetest

import (
	"reflect"
	"testing"
)

// TestFullUserSetsEveryField guards the round-trip cases: a User field
// that fullUser leaves at its zero value would go unchecked, since a store
// that drops it returns the zero value too. ID is the store's to assign.
func TestFullUserSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullUser("full@example.test"))
	for i := range v.NumField() {
		if v.Type().Field(i).Name != "ID" && v.Field(i).IsZero() {
			t.Errorf("fullUser: User.%s: got the zero value, want a distinctive one", v.Type().Field(i).Name)
		}
	}
}

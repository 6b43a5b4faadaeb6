package storetest

import (
	"maps"
	"testing"

	"github.com/authsys-go/authsys/store"
)

// The Profile cases of RunUserStoreHarness: User.Profile survives
// CreateUser and UpdateUser, and callers get copies of it.

func testProfileRoundTrip(t *testing.T, s store.UserStore, profile map[string]any) {
	full := fullUser("profile-full@example.test")
	full.Profile = maps.Clone(profile)
	checkRoundTrip(t, s, full)
	minimal := minimalUser("profile-minimal@example.test")
	minimal.Profile = maps.Clone(profile)
	checkRoundTrip(t, s, minimal)
	// A user without a profile stays without one next to users with one.
	checkRoundTrip(t, s, minimalUser("profile-none@example.test"))
}

func testProfileUpdate(t *testing.T, s store.UserStore, profile map[string]any) {
	created := mustCreate(t, s, minimalUser("profile-update@example.test"))
	want := created.Clone()
	want.Profile = maps.Clone(profile)
	got, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.Profile = maps.Clone(profile)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser setting Profile: got error %v, want nil", err)
	}
	checkUser(t, "UpdateUser's result after setting Profile", got, want)
	checkUser(t, "UserByID after UpdateUser set Profile", mustByID(t, s, created.ID), want)

	want.TokenVersion++
	got, err = s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.TokenVersion++
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser of TokenVersion: got error %v, want nil", err)
	}
	checkUser(t, "UpdateUser's result after changing another field", got, want)
	checkUser(t, "UserByEmail after an update of another field", mustByEmail(t, s, want.Email), want)
}

func testProfileCopies(t *testing.T, s store.UserStore, profile map[string]any) {
	in := minimalUser("profile-copies@example.test")
	in.Profile = store.User{Profile: profile}.Clone().Profile
	created := mustCreate(t, s, in)
	want := created.Clone()
	// Mutating the input after CreateUser, or any returned copy, at any
	// depth, changes nothing stored.
	tamperJSON(in.Profile)
	checkUser(t, "UserByID after mutating CreateUser's input", mustByID(t, s, want.ID), want)
	tamperJSON(created.Profile)
	checkUser(t, "UserByID after mutating CreateUser's result", mustByID(t, s, want.ID), want)
	byID := mustByID(t, s, want.ID)
	tamperJSON(byID.Profile)
	checkUser(t, "UserByEmail after mutating UserByID's result", mustByEmail(t, s, want.Email), want)
	byEmail := mustByEmail(t, s, want.Email)
	tamperJSON(byEmail.Profile)
	checkUser(t, "UserByID after mutating UserByEmail's result", mustByID(t, s, want.ID), want)
	var inFn map[string]any
	updated, err := s.UpdateUser(t.Context(), want.ID, func(u *store.User) error {
		inFn = u.Profile
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: got error %v, want nil", err)
	}
	tamperJSON(inFn)
	tamperJSON(updated.Profile)
	checkUser(t, "UserByID after mutating UpdateUser's copy and result", mustByID(t, s, want.ID), want)
}

// tamperJSON changes every object and array in v, at every depth: each
// scalar member or element is replaced, and every object gains a member.
func tamperJSON(v any) {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return // nothing to change (a store that dropped the profile fails elsewhere)
		}
		for k, x := range v {
			switch x.(type) {
			case map[string]any, []any:
				tamperJSON(x)
			default:
				v[k] = "tampered"
			}
		}
		v["tampered"] = true
	case []any:
		for i, x := range v {
			switch x.(type) {
			case map[string]any, []any:
				tamperJSON(x)
			default:
				v[i] = "tampered"
			}
		}
	}
}

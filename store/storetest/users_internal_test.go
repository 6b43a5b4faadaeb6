package storetest

import (
	"context"
	"maps"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/store"
)

// TestFullUserSetsEveryField guards the round-trip cases: a User field
// that fullUser leaves at its zero value would go unchecked, since a store
// that drops it returns the zero value too. ID is the store's to assign;
// Profile is the Profile cases' (a store may keep no profile).
func TestFullUserSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullUser("full@example.test"))
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name != "ID" && name != "Profile" && v.Field(i).IsZero() {
			t.Errorf("fullUser: User.%s: got the zero value, want a distinctive one", name)
		}
	}
}

// refUsers is a reference UserStore for the Profile cases, with a defect
// when broken names one.
type refUsers struct {
	broken string
	mu     sync.Mutex
	byID   map[string]store.User
}

func (s *refUsers) copyOut(u store.User) store.User {
	if s.broken == "shallow-copies" {
		u.Profile = maps.Clone(u.Profile)
		return u
	}
	return u.Clone()
}

func (s *refUsers) CreateUser(_ context.Context, u store.User) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = u.Email
	if s.broken == "drops-profile" {
		u.Profile = nil
	}
	s.byID[u.ID] = s.copyOut(u)
	return s.copyOut(u), nil
}

func (s *refUsers) UserByID(_ context.Context, id string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return s.copyOut(u), nil
}

func (s *refUsers) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return s.UserByID(ctx, store.NormalizeEmail(email))
}

func (s *refUsers) UpdateUser(_ context.Context, id string, fn func(*store.User) error) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	u := s.copyOut(old)
	if err := fn(&u); err != nil {
		return store.User{}, err
	}
	if s.broken == "update-keeps-old-profile" {
		u.Profile = old.Profile
	}
	s.byID[id] = s.copyOut(u)
	return s.copyOut(u), nil
}

// runProfileCases runs the Profile cases of RunUserStoreHarness on fresh
// reference stores.
func runProfileCases(t *testing.T, broken string) {
	for name, run := range map[string]func(*testing.T, store.UserStore, map[string]any){
		"ProfileRoundTrip": testProfileRoundTrip, "ProfileUpdate": testProfileUpdate, "ProfileReturnedAsCopies": testProfileCopies,
	} {
		t.Run(name, func(t *testing.T) {
			run(t, &refUsers{broken: broken, byID: map[string]store.User{}}, JSONProfile())
		})
	}
}

func TestProfileCasesPassReference(t *testing.T) { runProfileCases(t, "") }

// brokenUsersEnv names the environment variable that makes
// TestProfileCasesFailBrokenStores, run again as a child process, run the
// Profile cases on one broken store.
const brokenUsersEnv = "STORETEST_BROKEN_USER_STORE"

// TestProfileCasesFailBrokenStores runs the Profile cases, in a child
// process of this test binary, against each defect of the reference
// store, and requires the case named to fail.
func TestProfileCasesFailBrokenStores(t *testing.T) {
	if broken := os.Getenv(brokenUsersEnv); broken != "" {
		runProfileCases(t, broken)
		return
	}
	failsBroken(t, "TestProfileCasesFailBrokenStores", brokenUsersEnv, "store", []brokenCase{
		{"drops-profile", "ProfileRoundTrip"},
		{"update-keeps-old-profile", "ProfileUpdate"},
		{"shallow-copies", "ProfileReturnedAsCopies"},
	}, false)
}

package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// errUpdate is the error the suite's UpdateUser functions return to refuse
// a change.
var errUpdate = errors.New("storetest: update refused")

// UserHarness is a store.UserStore under test together with what the
// cases that need more than the store use.
type UserHarness struct {
	// Store is the store under test, fresh and empty.
	Store store.UserStore
	// Break makes Store's backend unreachable for the rest of the case:
	// it closes the database, pool or client Store uses, or points it at
	// an address where nothing answers. The Outage case then requires
	// every method to fail with an error wrapping store.ErrUnavailable,
	// never a raw driver error. Nil means the store has no backend to
	// lose (an in-memory store): the Outage case is skipped.
	Break func()
	// Profile is a User.Profile that Store keeps, for the Profile cases:
	// a user created with it, or given it by UpdateUser, must come back
	// with an equal Profile, which an update of other fields keeps and
	// which no caller can change through a returned copy. A store that
	// keeps the profile whole, as one JSON document (the stores of this
	// module do), gives JSONProfile(); a store that maps the application's
	// own columns gives values of those, as it returns them (for example
	// {"display_name": "Ada"}). Nil skips the Profile cases: the store
	// keeps no profile, and its application may declare no
	// authsys.Profile fields.
	Profile map[string]any
}

// JSONProfile returns a new profile with a value of every kind that
// encoding/json decodes (a string, a number, a boolean, null, an array and
// an object, nested), as a store that keeps User.Profile as one JSON
// document must give back. Give it as UserHarness.Profile.
func JSONProfile() map[string]any {
	return map[string]any{
		"display_name": "Ada Lovelace",
		"unicode":      "Zoë ✓ 漢字 \"quoted\" \\ 🙂",
		"age":          36.0,
		"ratio":        -0.125,
		"subscribed":   true,
		"muted":        false,
		"nickname":     nil,
		"tags":         []any{"math", 2.0, false, nil},
		"address": map[string]any{
			"city":  "London",
			"lines": []any{"12 St James's Square", map[string]any{"floor": 1.0}},
		},
	}
}

// RunUserStore runs the store.UserStore conformance suite. newStore returns
// a fresh, empty store for each subtest and registers any cleanup with
// t.Cleanup. If the store also implements store.UserLister, the listing
// cases run too; otherwise they are skipped. The Outage and Profile cases
// are skipped: use RunUserStoreHarness to run them.
//
// The suite checks that every field survives a round trip (times compared
// to the microsecond, whatever their location), that emails are unique and
// compared case-insensitively, that a given ID is kept and a taken one
// refused, that stores hand out copies rather than aliases, that UpdateUser
// is atomic (concurrent increments are never lost, a backup code is
// consumed exactly once) and refuses an ID change, that concurrent
// CreateUser calls on one email have exactly one winner, and that every
// method called with a context that has already ended (past its deadline
// or cancelled) returns an error wrapping store.ErrUnavailable and the
// context's error, and changes nothing.
func RunUserStore(t *testing.T, newStore func(t *testing.T) store.UserStore) {
	t.Helper()
	RunUserStoreHarness(t, func(t *testing.T) UserHarness {
		return UserHarness{Store: newStore(t)}
	})
}

// RunUserStoreHarness runs the store.UserStore conformance suite of
// RunUserStore, plus the Outage case when the harness has a Break
// function: with the backend unreachable, every method (ListUsers too,
// for a store.UserLister) must return an error wrapping
// store.ErrUnavailable within the 5 s deadline of its context. newHarness
// returns a fresh, empty store for each subtest and registers any cleanup
// with t.Cleanup. When the harness gives a Profile, the Profile cases run
// too: the store keeps User.Profile.
func RunUserStoreHarness(t *testing.T, newHarness func(t *testing.T) UserHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s store.UserStore)
	}{
		{"RoundTripFullUser", testRoundTripFull},
		{"RoundTripMinimalUser", testRoundTripMinimal},
		{"CreateAssignsUniqueIDs", testCreateAssignsIDs},
		{"CreateKeepsGivenID", testCreateKeepsGivenID},
		{"CreateDuplicateIDIsNotEmailTaken", testCreateDuplicateID},
		{"CreateDuplicateEmail", testCreateDuplicateEmail},
		{"UserByEmailIgnoresCase", testUserByEmailIgnoresCase},
		{"UnknownUser", testUnknownUser},
		{"CreateCopiesInput", testCreateCopiesInput},
		{"ReturnedUsersAreCopies", testReturnedUsersAreCopies},
		{"UpdateApplies", testUpdateApplies},
		{"UpdateFnErrorWritesNothing", testUpdateFnError},
		{"UpdateUnknownUser", testUpdateUnknown},
		{"UpdateRefusesIDChange", testUpdateRefusesIDChange},
		{"UpdateEmailTaken", testUpdateEmailTaken},
		{"UpdateEmailToFreeAddress", testUpdateEmailFree},
		{"UpdateKeepsNoAlias", testUpdateKeepsNoAlias},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdates},
		{"ConcurrentBackupCodeUse", testConcurrentBackupCode},
		{"ConcurrentCreateSameEmail", testConcurrentCreate},
		{"EndedContextIsUnavailable", testUserEndedContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newHarness(t).Store) })
	}
	t.Run("Outage", func(t *testing.T) {
		h := newHarness(t)
		if h.Break == nil {
			t.Skip("the harness has no Break function: the store has no backend to lose")
		}
		testUserOutage(t, h.Store, h.Break)
	})

	profileCases := []struct {
		name string
		run  func(t *testing.T, s store.UserStore, profile map[string]any)
	}{
		{"ProfileRoundTrip", testProfileRoundTrip},
		{"ProfileUpdate", testProfileUpdate},
		{"ProfileReturnedAsCopies", testProfileCopies},
	}
	for _, c := range profileCases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Profile == nil {
				t.Skip("the harness gives no Profile: the store keeps no profile (set UserHarness.Profile to prove it keeps one)")
			}
			c.run(t, h.Store, h.Profile)
		})
	}

	listCases := []struct {
		name string
		run  func(t *testing.T, s store.UserStore, l store.UserLister)
	}{
		{"ListEmpty", testListEmpty},
		{"ListOrderedByEmail", testListOrdered},
		{"ListPrefixIgnoresCase", testListPrefix},
		{"ListLimit", testListLimit},
		{"ListPaginationVisitsEachOnce", testListPagination},
		{"ListPrefixIsLiteral", testListPrefixLiteral},
	}
	for _, c := range listCases {
		t.Run(c.name, func(t *testing.T) {
			s := newHarness(t).Store
			l, ok := s.(store.UserLister)
			if !ok {
				t.Skip("store does not implement store.UserLister")
			}
			c.run(t, s, l)
		})
	}
}

// fullUser returns a user with every field set to a distinctive value.
func fullUser(email string) store.User {
	login := wholeMicro(time.Now()) // keeps the monotonic reading
	return store.User{
		Email:             email,
		PasswordHash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		IsActive:          true,
		EmailVerified:     true,
		Disabled:          true,
		IsStaff:           true,
		TokenVersion:      1<<40 + 7,
		TOTPSecret:        "enc:confirmed-secret",
		TOTPPendingSecret: "enc:pending-secret",
		TOTPEnabled:       true,
		TOTPLastStep:      1<<35 + 11,
		BackupCodes: []store.BackupCode{
			{ID: "code-1", Hash: "hash-1"},
			{ID: "code-2", Hash: "hash-2", UsedAt: login.Add(-90 * time.Minute)},
			{ID: "code-3", Hash: "hash-3"},
		},
		DateJoined: time.Date(2023, time.March, 4, 5, 6, 7, 123456000, time.FixedZone("UTC+2", 2*60*60)),
		LastLogin:  login,
	}
}

// minimalUser returns a user with every optional field at its zero value.
func minimalUser(email string) store.User {
	return store.User{
		Email:        email,
		PasswordHash: "hash",
		DateJoined:   time.Date(2024, time.January, 2, 3, 4, 5, 6000, time.UTC),
	}
}

func mustCreate(t *testing.T, s store.UserStore, u store.User) store.User {
	t.Helper()
	got, err := s.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateUser(%q): got error %v, want nil", u.Email, err)
	}
	if got.ID == "" {
		t.Fatalf("CreateUser(%q): got empty ID, want one assigned", u.Email)
	}
	return got
}

func mustByID(t *testing.T, s store.UserStore, id string) store.User {
	t.Helper()
	got, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%q): got error %v, want nil", id, err)
	}
	return got
}

func mustByEmail(t *testing.T, s store.UserStore, email string) store.User {
	t.Helper()
	got, err := s.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("UserByEmail(%q): got error %v, want nil", email, err)
	}
	return got
}

func checkRoundTrip(t *testing.T, s store.UserStore, in store.User) {
	t.Helper()
	created := mustCreate(t, s, in)
	want := in.Clone()
	want.ID = created.ID
	checkUser(t, "CreateUser result", created, want)
	checkUser(t, "UserByID", mustByID(t, s, created.ID), want)
	checkUser(t, "UserByEmail", mustByEmail(t, s, in.Email), want)
}

func testRoundTripFull(t *testing.T, s store.UserStore) {
	checkRoundTrip(t, s, fullUser("full@example.test"))
}

func testRoundTripMinimal(t *testing.T, s store.UserStore) {
	checkRoundTrip(t, s, minimalUser("minimal@example.test"))
	u := mustByEmail(t, s, "minimal@example.test")
	if !u.LastLogin.IsZero() {
		t.Errorf("LastLogin: got %v, want the zero time", u.LastLogin)
	}
	if len(u.BackupCodes) != 0 {
		t.Errorf("BackupCodes: got %d codes, want 0", len(u.BackupCodes))
	}
}

func testCreateAssignsIDs(t *testing.T, s store.UserStore) {
	seen := make(map[string]string)
	for i := range 10 {
		email := fmt.Sprintf("user%02d@example.test", i)
		u := mustCreate(t, s, minimalUser(email))
		if prev, dup := seen[u.ID]; dup {
			t.Errorf("CreateUser(%q): got ID %q, already assigned to %q; want a unique ID", email, u.ID, prev)
		}
		seen[u.ID] = email
		if got := mustByID(t, s, u.ID).Email; got != email {
			t.Errorf("UserByID(%q).Email: got %q, want %q", u.ID, got, email)
		}
	}
}

func testCreateKeepsGivenID(t *testing.T, s store.UserStore) {
	in := minimalUser("given@example.test")
	in.ID = "given-id"
	got := mustCreate(t, s, in)
	if got.ID != "given-id" {
		t.Errorf("CreateUser with ID %q: got ID %q, want %q", in.ID, got.ID, in.ID)
	}
	checkUser(t, "UserByID(given-id)", mustByID(t, s, "given-id"), in)
}

func testCreateDuplicateID(t *testing.T, s store.UserStore) {
	first := minimalUser("first@example.test")
	first.ID = "fixed"
	first = mustCreate(t, s, first)
	second := fullUser("second@example.test")
	second.ID = "fixed"
	_, err := s.CreateUser(t.Context(), second)
	if err == nil || errors.Is(err, store.ErrEmailTaken) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateUser with a taken ID: got error %v, want one wrapping neither %v nor %v",
			err, store.ErrEmailTaken, store.ErrUnavailable)
	}
	checkUser(t, "UserByID(fixed) after the refused CreateUser", mustByID(t, s, "fixed"), first)
	if _, err := s.UserByEmail(t.Context(), "second@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail of the refused user: got error %v, want %v", err, store.ErrNotFound)
	}
	// The refused email is free.
	mustCreate(t, s, minimalUser("second@example.test"))
}

func testCreateDuplicateEmail(t *testing.T, s store.UserStore) {
	orig := mustCreate(t, s, minimalUser("alice@example.test"))
	for _, email := range []string{"alice@example.test", "Alice@Example.Test", "ALICE@EXAMPLE.TEST"} {
		t.Run(email, func(t *testing.T) {
			u := fullUser(email)
			_, err := s.CreateUser(t.Context(), u)
			if !errors.Is(err, store.ErrEmailTaken) {
				t.Errorf("CreateUser(%q): got error %v, want %v", email, err, store.ErrEmailTaken)
			}
		})
	}
	checkUser(t, "UserByEmail after refused duplicates", mustByEmail(t, s, "alice@example.test"), orig)
}

func testUserByEmailIgnoresCase(t *testing.T, s store.UserStore) {
	u := mustCreate(t, s, minimalUser("bob@example.test"))
	for _, email := range []string{"bob@example.test", "Bob@Example.Test", "BOB@EXAMPLE.TEST"} {
		got, err := s.UserByEmail(t.Context(), email)
		if err != nil {
			t.Errorf("UserByEmail(%q): got error %v, want nil", email, err)
			continue
		}
		if got.ID != u.ID {
			t.Errorf("UserByEmail(%q).ID: got %q, want %q", email, got.ID, u.ID)
		}
	}
}

func testUnknownUser(t *testing.T, s store.UserStore) {
	u := mustCreate(t, s, minimalUser("carol@example.test"))
	if _, err := s.UserByID(t.Context(), u.ID+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(unknown): got error %v, want %v", err, store.ErrNotFound)
	}
	if _, err := s.UserByID(t.Context(), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(\"\"): got error %v, want %v", err, store.ErrNotFound)
	}
	for _, email := range []string{"dave@example.test", "carol@example.tes", "arol@example.test", ""} {
		if _, err := s.UserByEmail(t.Context(), email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByEmail(%q): got error %v, want %v", email, err, store.ErrNotFound)
		}
	}
}

func testCreateCopiesInput(t *testing.T, s store.UserStore) {
	in := fullUser("erin@example.test")
	want := in.Clone()
	created := mustCreate(t, s, in)
	want.ID = created.ID
	in.BackupCodes[0].Hash = "tampered"
	in.BackupCodes[1].UsedAt = time.Time{}
	in.PasswordHash = "tampered"
	checkUser(t, "UserByID after mutating CreateUser's input", mustByID(t, s, created.ID), want)
}

func testReturnedUsersAreCopies(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("frank@example.test"))
	want := created.Clone()
	tamper := func(u *store.User) {
		u.BackupCodes[0].Hash = "tampered"
		u.BackupCodes[0].UsedAt = time.Now()
		u.BackupCodes = append(u.BackupCodes[:1], store.BackupCode{ID: "evil", Hash: "evil"})
		u.TokenVersion++
		u.IsActive = false
		u.Disabled = !u.Disabled
	}
	tamper(&created)
	checkUser(t, "UserByID after mutating CreateUser's result", mustByID(t, s, want.ID), want)

	byID := mustByID(t, s, want.ID)
	tamper(&byID)
	checkUser(t, "UserByEmail after mutating UserByID's result", mustByEmail(t, s, want.Email), want)

	byEmail := mustByEmail(t, s, want.Email)
	tamper(&byEmail)
	checkUser(t, "UserByID after mutating UserByEmail's result", mustByID(t, s, want.ID), want)

	updated, err := s.UpdateUser(t.Context(), want.ID, func(u *store.User) error { return nil })
	if err != nil {
		t.Fatalf("UpdateUser: got error %v, want nil", err)
	}
	tamper(&updated)
	checkUser(t, "UserByID after mutating UpdateUser's result", mustByID(t, s, want.ID), want)
}

func testUpdateApplies(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, minimalUser("grace@example.test"))
	login := wholeMicro(time.Now())
	want := created.Clone()
	want.PasswordHash = "new-hash"
	want.IsActive = true
	want.EmailVerified = true
	want.Disabled = true
	want.IsStaff = true
	want.TokenVersion = 3
	want.TOTPSecret = "enc:s"
	want.TOTPPendingSecret = ""
	want.TOTPEnabled = true
	want.TOTPLastStep = 99
	want.BackupCodes = []store.BackupCode{{ID: "a", Hash: "ha"}, {ID: "b", Hash: "hb", UsedAt: login}}
	want.LastLogin = login

	calls := 0
	got, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		calls++
		checkUser(t, "UpdateUser fn argument", *u, created)
		*u = want.Clone()
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: got error %v, want nil", err)
	}
	if calls == 0 {
		t.Errorf("UpdateUser: fn called %d times, want at least 1", calls)
	}
	checkUser(t, "UpdateUser result", got, want)
	checkUser(t, "UserByID after UpdateUser", mustByID(t, s, created.ID), want)
	checkUser(t, "UserByEmail after UpdateUser", mustByEmail(t, s, created.Email), want)

	// A second update sees the first one.
	got, err = s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.BackupCodes = nil
		u.TOTPEnabled = false
		u.Disabled = false
		u.LastLogin = time.Time{}
		return nil
	})
	if err != nil {
		t.Fatalf("second UpdateUser: got error %v, want nil", err)
	}
	want.BackupCodes = nil
	want.TOTPEnabled = false
	want.Disabled = false
	want.LastLogin = time.Time{}
	checkUser(t, "second UpdateUser result", got, want)
	checkUser(t, "UserByID after second UpdateUser", mustByID(t, s, created.ID), want)
}

func testUpdateFnError(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("heidi@example.test"))
	wrapped := fmt.Errorf("refusing: %w", errUpdate)
	_, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.PasswordHash = "written-anyway"
		u.Disabled = !u.Disabled
		u.TokenVersion++
		u.Email = "other@example.test"
		u.BackupCodes[0].UsedAt = time.Now()
		return wrapped
	})
	if !errors.Is(err, errUpdate) {
		t.Errorf("UpdateUser: got error %v, want %v", err, errUpdate)
	}
	checkUser(t, "UserByID after refused update", mustByID(t, s, created.ID), created)
	if _, err := s.UserByEmail(t.Context(), "other@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail(new email of refused update): got error %v, want %v", err, store.ErrNotFound)
	}
}

func testUpdateUnknown(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, minimalUser("ivan@example.test"))
	_, err := s.UpdateUser(t.Context(), created.ID+"x", func(u *store.User) error {
		u.TokenVersion++
		return nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUser(unknown id): got error %v, want %v", err, store.ErrNotFound)
	}
	checkUser(t, "UserByID of another user", mustByID(t, s, created.ID), created)
}

func testUpdateRefusesIDChange(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("quinn@example.test"))
	_, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.ID = "other"
		u.TokenVersion = 9
		return nil
	})
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateUser changing ID: got error %v, want one not wrapping %v", err, store.ErrUnavailable)
	}
	checkUser(t, "UserByID after the refused update", mustByID(t, s, created.ID), created)
	if _, err := s.UserByID(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID(\"other\"): got error %v, want %v", err, store.ErrNotFound)
	}
}

func testUpdateEmailTaken(t *testing.T, s store.UserStore) {
	judy := mustCreate(t, s, minimalUser("judy@example.test"))
	mallory := mustCreate(t, s, fullUser("mallory@example.test"))
	for _, email := range []string{"judy@example.test", "Judy@Example.Test"} {
		t.Run(email, func(t *testing.T) {
			_, err := s.UpdateUser(t.Context(), mallory.ID, func(u *store.User) error {
				u.Email = email
				u.TokenVersion++
				return nil
			})
			if !errors.Is(err, store.ErrEmailTaken) {
				t.Errorf("UpdateUser(email -> %q): got error %v, want %v", email, err, store.ErrEmailTaken)
			}
			checkUser(t, "UserByID(mallory)", mustByID(t, s, mallory.ID), mallory)
			checkUser(t, "UserByEmail(judy)", mustByEmail(t, s, "judy@example.test"), judy)
			checkUser(t, "UserByEmail(mallory)", mustByEmail(t, s, "mallory@example.test"), mallory)
		})
	}
}

func testUpdateEmailFree(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("old@example.test"))
	got, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.Email = "new@example.test"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser(email -> free address): got error %v, want nil", err)
	}
	want := created.Clone()
	want.Email = "new@example.test"
	checkUser(t, "UpdateUser result", got, want)
	checkUser(t, "UserByEmail(new)", mustByEmail(t, s, "new@example.test"), want)
	checkUser(t, "UserByID", mustByID(t, s, created.ID), want)
	if _, err := s.UserByEmail(t.Context(), "old@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail(old): got error %v, want %v", err, store.ErrNotFound)
	}
	// The old address is free again.
	other := mustCreate(t, s, minimalUser("old@example.test"))
	if other.ID == created.ID {
		t.Errorf("CreateUser(old address).ID: got %q, the ID of the renamed user; want a new ID", other.ID)
	}
	checkUser(t, "UserByID after reusing the old address", mustByID(t, s, created.ID), want)
}

func testUpdateKeepsNoAlias(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("nina@example.test"))
	var kept *store.User
	got, err := s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
		u.TOTPLastStep++
		kept = u
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: got error %v, want nil", err)
	}
	want := got.Clone()
	kept.BackupCodes[0].Hash = "tampered"
	kept.TokenVersion = -1
	checkUser(t, "UserByID after mutating the user fn received", mustByID(t, s, created.ID), want)
}

// start runs fn(i) for i in [0, n) on n goroutines released at once, and
// waits for all of them.
func start(n int, fn func(i int)) {
	var ready, wg sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(n)
	for i := range n {
		wg.Go(func() {
			ready.Done()
			<-gate
			fn(i)
		})
	}
	ready.Wait()
	close(gate)
	wg.Wait()
}

func testConcurrentUpdates(t *testing.T, s store.UserStore) {
	const n = 50
	created := mustCreate(t, s, fullUser("olivia@example.test"))
	errs := make([]error, n)
	start(n, func(i int) {
		_, errs[i] = s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
			v := u.TokenVersion
			runtime.Gosched() // widen the window a non-atomic store would lose updates in
			u.TokenVersion = v + 1
			return nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: UpdateUser: got error %v, want nil", i, err)
		}
	}
	want := created.Clone()
	want.TokenVersion += n
	checkUser(t, "UserByID after concurrent increments", mustByID(t, s, created.ID), want)
}

func testConcurrentBackupCode(t *testing.T, s store.UserStore) {
	const n = 20
	created := mustCreate(t, s, fullUser("peggy@example.test"))
	const codeID = "code-1" // unused in fullUser
	base := wholeMicro(time.Now())
	usedAt := func(i int) time.Time { return base.Add(time.Duration(i+1) * time.Second) }
	errs := make([]error, n)
	start(n, func(i int) {
		_, errs[i] = s.UpdateUser(t.Context(), created.ID, func(u *store.User) error {
			for j := range u.BackupCodes {
				c := &u.BackupCodes[j]
				if c.ID != codeID {
					continue
				}
				if !c.UsedAt.IsZero() {
					return errUpdate
				}
				runtime.Gosched() // widen the window a non-atomic store would double-spend in
				c.UsedAt = usedAt(i)
				return nil
			}
			return fmt.Errorf("backup code %q missing", codeID)
		})
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("goroutine %d: UpdateUser: got nil error, want %v (goroutine %d already consumed the code)", i, errUpdate, winner)
		case err == nil:
			winner = i
		case !errors.Is(err, errUpdate):
			t.Errorf("goroutine %d: UpdateUser: got error %v, want nil or %v", i, err, errUpdate)
		}
	}
	if winner < 0 {
		t.Fatalf("winners: got 0, want exactly 1")
	}
	want := created.Clone()
	want.BackupCodes[0].UsedAt = usedAt(winner)
	checkUser(t, "UserByID after concurrent backup code use", mustByID(t, s, created.ID), want)
}

func testConcurrentCreate(t *testing.T, s store.UserStore) {
	for r := range raceRounds {
		testConcurrentCreateRound(t, s, fmt.Sprintf("race%02d@example.test", r))
	}
}

func testConcurrentCreateRound(t *testing.T, s store.UserStore, email string) {
	const n = 20
	ids := make([]string, n)
	errs := make([]error, n)
	start(n, func(i int) {
		u := minimalUser(email)
		u.TokenVersion = int64(i)
		var got store.User
		got, errs[i] = s.CreateUser(t.Context(), u)
		ids[i] = got.ID
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("goroutine %d: CreateUser(%q): got nil error, want %v (goroutine %d already created the user)", i, email, store.ErrEmailTaken, winner)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrEmailTaken):
			t.Errorf("goroutine %d: CreateUser(%q): got error %v, want nil or %v", i, email, err, store.ErrEmailTaken)
		}
	}
	if winner < 0 {
		t.Fatalf("successful CreateUser(%q) calls: got 0, want exactly 1", email)
	}
	got := mustByEmail(t, s, email)
	if got.ID != ids[winner] || got.TokenVersion != int64(winner) {
		t.Errorf("UserByEmail: got ID %q TokenVersion %d, want the winner's ID %q TokenVersion %d",
			got.ID, got.TokenVersion, ids[winner], winner)
	}
}

// listEmails is the listing fixture: equal-length local parts on one
// domain, so that byte order and any database collation agree.
func listEmails() []string {
	var emails []string
	for _, prefix := range []string{"ann", "bob", "abe"} {
		for i := range 5 {
			emails = append(emails, fmt.Sprintf("%s%02d@example.test", prefix, i))
		}
	}
	return emails
}

// seedList creates the listing fixture in an order unrelated to the email
// order and returns the emails sorted.
func seedList(t *testing.T, s store.UserStore) []string {
	t.Helper()
	emails := listEmails()
	for i := range emails {
		// Visit indexes in a fixed scrambled order (7 is coprime to 15).
		mustCreate(t, s, minimalUser(emails[(i*7)%len(emails)]))
	}
	slices.Sort(emails)
	return emails
}

func mustList(t *testing.T, l store.UserLister, prefix, after string, limit int) []string {
	t.Helper()
	users, err := l.ListUsers(t.Context(), prefix, after, limit)
	if err != nil {
		t.Fatalf("ListUsers(%q, %q, %d): got error %v, want nil", prefix, after, limit, err)
	}
	if len(users) > limit {
		t.Errorf("ListUsers(%q, %q, %d): got %d users, want at most %d", prefix, after, limit, len(users), limit)
	}
	emails := make([]string, len(users))
	for i, u := range users {
		emails[i] = u.Email
		if u.ID == "" {
			t.Errorf("ListUsers(%q, %q, %d)[%d]: got empty ID", prefix, after, limit, i)
		}
	}
	return emails
}

func testListEmpty(t *testing.T, _ store.UserStore, l store.UserLister) {
	if got := mustList(t, l, "", "", 10); len(got) != 0 {
		t.Errorf("ListUsers on an empty store: got %q, want none", got)
	}
}

func testListOrdered(t *testing.T, s store.UserStore, l store.UserLister) {
	all := seedList(t, s)
	if got := mustList(t, l, "", "", 100); !slices.Equal(got, all) {
		t.Errorf("ListUsers(\"\", \"\", 100): got %q, want %q", got, all)
	}
	if got, want := mustList(t, l, "", all[3], 100), all[4:]; !slices.Equal(got, want) {
		t.Errorf("ListUsers(\"\", %q, 100): got %q, want %q", all[3], got, want)
	}
	if got := mustList(t, l, "", all[len(all)-1], 100); len(got) != 0 {
		t.Errorf("ListUsers after the last email: got %q, want none", got)
	}
	// The full user values come back, not just emails: the first user
	// gets every field set, and ListUsers must return all of them.
	first := mustByEmail(t, s, all[0])
	want := fullUser(first.Email)
	want.ID = first.ID
	if _, err := s.UpdateUser(t.Context(), first.ID, func(u *store.User) error {
		*u = want.Clone()
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser(%q): got error %v, want nil", first.Email, err)
	}
	users, err := l.ListUsers(t.Context(), "", "", 1)
	if err != nil {
		t.Fatalf("ListUsers: got error %v, want nil", err)
	}
	if len(users) != 1 {
		t.Fatalf("ListUsers(\"\", \"\", 1): got %d users, want 1", len(users))
	}
	checkUser(t, "ListUsers[0]", users[0], want)
}

func testListPrefix(t *testing.T, s store.UserStore, l store.UserLister) {
	all := seedList(t, s)
	filter := func(prefix string) []string {
		var out []string
		for _, e := range all {
			if strings.HasPrefix(e, prefix) {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"ann", filter("ann")},
		{"ANN", filter("ann")},
		{"Bob0", filter("bob0")},
		{"a", filter("a")},
		{"abe03@EXAMPLE.test", []string{"abe03@example.test"}},
		{"zed", nil},
		{"", all},
	}
	for _, tt := range tests {
		if got := mustList(t, l, tt.prefix, "", 100); !slices.Equal(got, tt.want) {
			t.Errorf("ListUsers(%q, \"\", 100): got %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func testListLimit(t *testing.T, s store.UserStore, l store.UserLister) {
	all := seedList(t, s)
	for _, limit := range []int{1, 2, 7, len(all)} {
		if got, want := mustList(t, l, "", "", limit), all[:limit]; !slices.Equal(got, want) {
			t.Errorf("ListUsers(\"\", \"\", %d): got %q, want %q", limit, got, want)
		}
	}
	if got, want := mustList(t, l, "BOB", "", 3), []string{"bob00@example.test", "bob01@example.test", "bob02@example.test"}; !slices.Equal(got, want) {
		t.Errorf("ListUsers(\"BOB\", \"\", 3): got %q, want %q", got, want)
	}
}

func testListPagination(t *testing.T, s store.UserStore, l store.UserLister) {
	all := seedList(t, s)
	for _, tt := range []struct {
		prefix string
		limit  int
	}{{"", 1}, {"", 4}, {"", 5}, {"A", 2}, {"bob", 3}} {
		var want []string
		for _, e := range all {
			if strings.HasPrefix(e, strings.ToLower(tt.prefix)) {
				want = append(want, e)
			}
		}
		var got []string
		after := ""
		for range len(all) + 2 {
			page := mustList(t, l, tt.prefix, after, tt.limit)
			got = append(got, page...)
			if len(page) < tt.limit {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of ListUsers(%q, after, %d): got %q, want %q", tt.prefix, tt.limit, got, want)
		}
	}
}

func testUserEndedContext(t *testing.T, s store.UserStore) {
	created := mustCreate(t, s, fullUser("rupert@example.test"))
	checkEndedContext(t, t.Context(), userCalls(s, created.ID, created.Email))
	checkUser(t, "UserByID after the calls with an ended context", mustByID(t, s, created.ID), created)
	if _, err := s.UserByEmail(t.Context(), "created-"+created.Email); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByEmail of the user CreateUser was asked for with an ended context: got error %v, want %v", err, store.ErrNotFound)
	}
}

func testUserOutage(t *testing.T, s store.UserStore, breakBackend func()) {
	created := mustCreate(t, s, fullUser("sybil@example.test"))
	breakBackend()
	checkOutage(t, t.Context(), userCalls(s, created.ID, created.Email))
}

// testListPrefixLiteral: characters that patterns of SQL LIKE, GLOB or
// Redis MATCH give a meaning match only themselves in a prefix.
func testListPrefixLiteral(t *testing.T, s store.UserStore, l store.UserLister) {
	for _, email := range []string{"a*b@x.test", "a?b@x.test", "a[b@x.test", "axb@x.test", "a%b@x.test", "a_b@x.test", "a\\b@x.test"} {
		mustCreate(t, s, minimalUser(email))
	}
	for _, prefix := range []string{"a*", "a?", "a[", "a%", "a_", "a\\"} {
		got := mustList(t, l, prefix, "", 10)
		if len(got) != 1 || !strings.HasPrefix(got[0], prefix) {
			t.Errorf("ListUsers(%q, \"\", 10): got %q, want only the email starting with %q", prefix, got, prefix)
		}
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
)

// PasskeyHarness is a store.PasskeyStore under test together with what the
// cases that need more than the store use.
type PasskeyHarness struct {
	// Store is the store under test, fresh and empty. When it also
	// implements store.UserStore, the suite creates the users whose
	// passkeys it stores through CreateUser first (a store may refuse
	// passkeys of unknown users, as the SQL stores do with a foreign key);
	// otherwise it uses made-up user IDs.
	Store store.PasskeyStore
	// Break makes Store's backend unreachable for the rest of the case,
	// as UserHarness.Break does. Nil means the store has no backend to
	// lose: the Outage case is skipped.
	Break func()
}

// RunPasskeyStore runs the store.PasskeyStore conformance suite. newStore
// returns a fresh, empty store for each subtest and registers any cleanup
// with t.Cleanup. The Outage case is skipped: use RunPasskeyStoreHarness
// to run it.
//
// The suite checks that every field survives a round trip (times compared
// to the microsecond, whatever their location; an empty slice may come
// back nil) and the zero LastUsedAt stays zero; that a taken credential
// ID, whoever's, gives store.ErrCredentialTaken and a taken ID another
// error, and that neither stores anything; that credential IDs are
// compared byte for byte; that unknown IDs give store.ErrNotFound; that
// PasskeysByUser lists only the user's passkeys, oldest first and ties by
// ID; that stores hand out and keep copies; that UsePasskey records a use
// only when the counter moves forward (or stays at zero on both sides) and
// otherwise returns the stored passkey and false; that of many goroutines
// using one passkey with one counter exactly one wins; that RenamePasskey
// and DeletePasskey act only on the user's own passkey, and a deleted
// passkey's credential ID is free again; and that every method called with
// a context that has already ended (past its deadline or cancelled)
// returns an error wrapping store.ErrUnavailable and the context's error,
// and changes nothing.
func RunPasskeyStore(t *testing.T, newStore func(t *testing.T) store.PasskeyStore) {
	t.Helper()
	RunPasskeyStoreHarness(t, func(t *testing.T) PasskeyHarness {
		return PasskeyHarness{Store: newStore(t)}
	})
}

// RunPasskeyStoreHarness runs the store.PasskeyStore conformance suite of
// RunPasskeyStore, plus the Outage case when the harness has a Break
// function: with the backend unreachable, every method must return an
// error wrapping store.ErrUnavailable within the 5 s deadline of its
// context. newHarness returns a fresh, empty store for each subtest and
// registers any cleanup with t.Cleanup.
func RunPasskeyStoreHarness(t *testing.T, newHarness func(t *testing.T) PasskeyHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(e *passkeyEnv)
	}{
		{"RoundTripFullPasskey", testPasskeyRoundTripFull},
		{"RoundTripMinimalPasskey", testPasskeyRoundTripMinimal},
		{"CreateTakenCredentialID", testPasskeyCreateTakenCredential},
		{"CreateTakenID", testPasskeyCreateTakenID},
		{"CredentialIDsAreBytes", testPasskeyCredentialBytes},
		{"PasskeysByUserOldestFirst", testPasskeysByUser},
		{"ReturnedPasskeysAreCopies", testPasskeyCopies},
		{"UseMovesTheCounterForward", testPasskeyUse},
		{"UseWithoutCounter", testPasskeyUseZero},
		{"ConcurrentUse", testPasskeyConcurrentUse},
		{"Rename", testPasskeyRename},
		{"Delete", testPasskeyDelete},
		{"EndedContextIsUnavailable", testPasskeyEndedContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.run(newPasskeyEnv(t, h.Store))
		})
	}
	t.Run("Outage", func(t *testing.T) {
		h := newHarness(t)
		if h.Break == nil {
			t.Skip("the harness has no Break function: the store has no backend to lose")
		}
		e := newPasskeyEnv(t, h.Store)
		p := e.create(fullPasskey("outage", e.user("a"), 1))
		h.Break()
		checkOutage(t, t.Context(), passkeyCalls(h.Store, p))
	})
}

// passkeyEnv is one case's store and the users it created.
type passkeyEnv struct {
	t     *testing.T
	s     store.PasskeyStore
	users map[string]string // suite name → user ID
}

func newPasskeyEnv(t *testing.T, s store.PasskeyStore) *passkeyEnv {
	return &passkeyEnv{t: t, s: s, users: map[string]string{}}
}

// user returns the ID of the suite's user name, created through the
// store's UserStore on first use when it has one.
func (e *passkeyEnv) user(name string) string {
	e.t.Helper()
	if id, ok := e.users[name]; ok {
		return id
	}
	id := "user-" + name
	if us, ok := e.s.(store.UserStore); ok {
		id = mustCreate(e.t, us, minimalUser(name+"@passkeys.example.test")).ID
	}
	e.users[name] = id
	return id
}

// passkeyBase is the instant the suite's passkeys are built around: now,
// to the microsecond.
func passkeyBase() time.Time { return wholeMicro(time.Now()) }

// fullPasskey returns a used passkey of userID with every field set to a
// distinctive value derived from id, its times in several locations.
func fullPasskey(id, userID string, n byte) store.Passkey {
	base := passkeyBase()
	east := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	return store.Passkey{
		ID:                id,
		UserID:            userID,
		Name:              "Passkey " + id + " — ünïcödé ✓",
		CredentialID:      []byte{0x00, 0xff, n, 0x80, 'c', 'r', 'e', 'd', 0x00},
		UserHandle:        []byte{0xfe, n, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e},
		PublicKey:         []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, n, 0x00, 0xff},
		SignCount:         4_000_000_000 + uint32(n),
		AAGUID:            []byte{0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, n},
		Transports:        []string{"internal", "hybrid"},
		AttestationFormat: "packed",
		BackupEligible:    true,
		BackupState:       true,
		CreatedAt:         time.Date(2024, time.March, 4, 5, 6, 7, 123456000, east).Add(time.Duration(n) * time.Second),
		LastUsedAt:        base.Add(-time.Minute).In(time.FixedZone("UTC-7", -7*60*60)),
	}
}

// newPasskey returns a passkey as registration creates it: never used,
// its counter at zero, created at created.
func newPasskey(id, userID string, credentialID []byte, created time.Time) store.Passkey {
	return store.Passkey{
		ID:                id,
		UserID:            userID,
		Name:              "Key " + id,
		CredentialID:      credentialID,
		UserHandle:        []byte("handle-" + userID),
		PublicKey:         []byte("cose-key-" + id),
		AAGUID:            make([]byte, 16),
		AttestationFormat: "none",
		CreatedAt:         created,
	}
}

// normalizePasskey returns p in the form the suite compares: times
// truncated to microseconds in UTC, empty slices as nil.
func normalizePasskey(p store.Passkey) store.Passkey {
	p = p.Clone()
	p.CreatedAt, p.LastUsedAt = normalizeTime(p.CreatedAt), normalizeTime(p.LastUsedAt)
	for _, b := range []*[]byte{&p.CredentialID, &p.UserHandle, &p.PublicKey, &p.AAGUID} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	if len(p.Transports) == 0 {
		p.Transports = nil
	}
	return p
}

// checkPasskey reports every field of got that differs from want.
func checkPasskey(t *testing.T, label string, got, want store.Passkey) {
	t.Helper()
	g, w := reflect.ValueOf(normalizePasskey(got)), reflect.ValueOf(normalizePasskey(want))
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s: Passkey.%s: got %v, want %v", label, g.Type().Field(i).Name, gf, wf)
		}
	}
}

func (e *passkeyEnv) create(p store.Passkey) store.Passkey {
	e.t.Helper()
	if err := e.s.CreatePasskey(e.t.Context(), p); err != nil {
		e.t.Fatalf("CreatePasskey(%q): got error %v, want nil", p.ID, err)
	}
	return p
}

func (e *passkeyEnv) byCredential(credentialID []byte) store.Passkey {
	e.t.Helper()
	p, err := e.s.PasskeyByCredentialID(e.t.Context(), credentialID)
	if err != nil {
		e.t.Fatalf("PasskeyByCredentialID(%x): got error %v, want nil", credentialID, err)
	}
	return p
}

// wantPasskey checks that the passkey stored under want.CredentialID is
// want.
func (e *passkeyEnv) wantPasskey(label string, want store.Passkey) {
	e.t.Helper()
	checkPasskey(e.t, fmt.Sprintf("%s: PasskeyByCredentialID(%x)", label, want.CredentialID), e.byCredential(want.CredentialID), want)
}

// wantNoCredential checks that PasskeyByCredentialID(credentialID) returns
// store.ErrNotFound.
func (e *passkeyEnv) wantNoCredential(label string, credentialID []byte) {
	e.t.Helper()
	if p, err := e.s.PasskeyByCredentialID(e.t.Context(), credentialID); !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("%s: PasskeyByCredentialID(%x): got %+v and error %v, want %v", label, credentialID, p, err, store.ErrNotFound)
	}
}

// wantList checks that PasskeysByUser(userID) returns want, in order,
// field by field.
func (e *passkeyEnv) wantList(label, userID string, want ...store.Passkey) {
	e.t.Helper()
	got, err := e.s.PasskeysByUser(e.t.Context(), userID)
	if err != nil {
		e.t.Fatalf("%s: PasskeysByUser(%q): got error %v, want nil", label, userID, err)
	}
	ids := func(ps []store.Passkey) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		e.t.Errorf("%s: PasskeysByUser(%q) IDs: got %q, want %q", label, userID, ids(got), ids(want))
		return
	}
	for i := range got {
		checkPasskey(e.t, fmt.Sprintf("%s: PasskeysByUser(%q)[%d]", label, userID, i), got[i], want[i])
	}
}

func (e *passkeyEnv) use(id string, count uint32, backup bool, at time.Time) (store.Passkey, bool) {
	e.t.Helper()
	p, ok, err := e.s.UsePasskey(e.t.Context(), id, count, backup, at)
	if err != nil {
		e.t.Fatalf("UsePasskey(%q, %d): got error %v, want nil", id, count, err)
	}
	return p, ok
}

// used returns p as a use with count, backup and at leaves it.
func used(p store.Passkey, count uint32, backup bool, at time.Time) store.Passkey {
	p.SignCount, p.BackupState, p.LastUsedAt = count, backup, at
	return p
}

func testPasskeyRoundTripFull(e *passkeyEnv) {
	in := fullPasskey("full", e.user("a"), 1)
	e.create(in)
	e.wantPasskey("after CreatePasskey", in)
	e.wantList("after CreatePasskey", in.UserID, in)
}

func testPasskeyRoundTripMinimal(e *passkeyEnv) {
	in := newPasskey("minimal", e.user("a"), []byte{1}, passkeyBase())
	in.Name, in.AAGUID, in.AttestationFormat = "", nil, ""
	e.create(in)
	got := e.byCredential(in.CredentialID)
	checkPasskey(e.t, "PasskeyByCredentialID", got, in)
	if !got.LastUsedAt.IsZero() {
		e.t.Errorf("PasskeyByCredentialID: got LastUsedAt %v, want the zero time", got.LastUsedAt)
	}
	e.wantList("after CreatePasskey", in.UserID, in)
}

func testPasskeyCreateTakenCredential(e *passkeyEnv) {
	base := passkeyBase()
	first := e.create(newPasskey("first", e.user("a"), []byte("cred-1"), base))
	for _, p := range []store.Passkey{
		newPasskey("same-user", e.user("a"), []byte("cred-1"), base.Add(time.Second)),
		newPasskey("other-user", e.user("b"), []byte("cred-1"), base.Add(time.Second)),
	} {
		if err := e.s.CreatePasskey(e.t.Context(), p); !errors.Is(err, store.ErrCredentialTaken) {
			e.t.Errorf("CreatePasskey(%q) with a taken credential ID: got error %v, want %v", p.ID, err, store.ErrCredentialTaken)
		}
	}
	e.wantPasskey("after the refused CreatePasskey calls", first)
	e.wantList("after the refused CreatePasskey calls", e.user("a"), first)
	e.wantList("after the refused CreatePasskey calls", e.user("b"))
}

func testPasskeyCreateTakenID(e *passkeyEnv) {
	base := passkeyBase()
	first := e.create(newPasskey("dup", e.user("a"), []byte("cred-1"), base))
	second := newPasskey("dup", e.user("b"), []byte("cred-2"), base)
	err := e.s.CreatePasskey(e.t.Context(), second)
	if err == nil || errors.Is(err, store.ErrCredentialTaken) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		e.t.Errorf("CreatePasskey with a taken ID: got error %v, want one wrapping neither %v, %v nor %v",
			err, store.ErrCredentialTaken, store.ErrNotFound, store.ErrUnavailable)
	}
	e.wantPasskey("after the refused CreatePasskey", first)
	e.wantNoCredential("the refused passkey's credential", second.CredentialID)
	e.wantList("after the refused CreatePasskey", e.user("b"))
}

func testPasskeyCredentialBytes(e *passkeyEnv) {
	base := passkeyBase()
	a := e.user("a")
	// Credential IDs that differ only in case, a trailing zero byte or a
	// byte that is not UTF-8 are different credentials.
	creds := [][]byte{[]byte("AbC"), []byte("aBc"), []byte("AbC\x00"), {0xff, 'A', 'b', 'C'}, {0xfe, 'A', 'b', 'C'}}
	var want []store.Passkey
	for i, c := range creds {
		want = append(want, e.create(newPasskey(fmt.Sprint("p", i), a, c, base.Add(time.Duration(i)*time.Second))))
	}
	for _, p := range want {
		e.wantPasskey("distinct credential IDs", p)
	}
	for _, c := range [][]byte{[]byte("abc"), []byte("AbC\x00\x00"), []byte("Ab"), {0xfd, 'A', 'b', 'C'}, nil} {
		e.wantNoCredential("an unknown credential ID", c)
	}
	e.wantList("distinct credential IDs", a, want...)
}

func testPasskeysByUser(e *passkeyEnv) {
	base := passkeyBase()
	a, b := e.user("a"), e.user("b")
	// Created out of order; tie-b and tie-a share their CreatedAt, so ID
	// order decides between them.
	p3 := e.create(newPasskey("p3", a, []byte("c3"), base.Add(3*time.Hour)))
	p1 := e.create(newPasskey("p1", a, []byte("c1"), base.Add(1*time.Hour)))
	tieB := e.create(newPasskey("tie-b", a, []byte("cb"), base.Add(2*time.Hour)))
	tieA := e.create(newPasskey("tie-a", a, []byte("ca"), base.Add(2*time.Hour)))
	other := e.create(newPasskey("other", b, []byte("co"), base))
	oldest := e.create(fullPasskey("oldest", a, 7)) // created in 2024
	e.wantList("oldest first, ties by ID", a, oldest, p1, tieA, tieB, p3)
	e.wantList("another user", b, other)
	e.wantList("an unknown user", "user-unknown")
	e.wantList("the empty user ID", "")
}

func testPasskeyCopies(e *passkeyEnv) {
	in := fullPasskey("copies", e.user("a"), 1)
	want := in.Clone()
	e.create(in)
	tamper := func(p *store.Passkey) {
		for _, b := range [][]byte{p.CredentialID, p.UserHandle, p.PublicKey, p.AAGUID} {
			if len(b) > 0 {
				b[len(b)-1] ^= 0x55
			}
		}
		if len(p.Transports) > 0 {
			p.Transports[0] = "tampered"
		}
		p.Name = "tampered"
	}
	tamper(&in)
	got := e.byCredential(want.CredentialID)
	tamper(&got)
	list, err := e.s.PasskeysByUser(e.t.Context(), want.UserID)
	if err != nil {
		e.t.Fatalf("PasskeysByUser: got error %v, want nil", err)
	}
	for i := range list {
		tamper(&list[i])
	}
	up, _ := e.use(want.ID, 1, false, passkeyBase()) // refused: the counter is far higher
	tamper(&up)
	rn, err := e.s.RenamePasskey(e.t.Context(), want.UserID, want.ID, want.Name)
	if err != nil {
		e.t.Fatalf("RenamePasskey: got error %v, want nil", err)
	}
	tamper(&rn)
	e.wantPasskey("after mutating what the store took and returned", want)
	e.wantList("after mutating what the store took and returned", want.UserID, want)
}

func testPasskeyUse(e *passkeyEnv) {
	base := passkeyBase()
	in := newPasskey("use", e.user("a"), []byte("cred-use"), base.Add(-time.Hour))
	in.SignCount = 10
	e.create(in)
	other := e.create(newPasskey("other", e.user("a"), []byte("cred-other"), base.Add(-2*time.Hour)))

	at1 := base.In(time.FixedZone("UTC+1", 60*60))
	want := used(in, 11, true, at1)
	got, ok := e.use(in.ID, 11, true, at1)
	if !ok {
		e.t.Errorf("UsePasskey with a higher counter (11 after 10): got false, want true")
	}
	checkPasskey(e.t, "UsePasskey result", got, want)
	e.wantPasskey("after UsePasskey", want)

	// A counter that does not move forward changes nothing.
	for _, c := range []uint32{11, 10, 1, 0} {
		got, ok := e.use(in.ID, c, false, base.Add(time.Hour))
		if ok {
			e.t.Errorf("UsePasskey with counter %d after 11: got true, want false", c)
		}
		checkPasskey(e.t, fmt.Sprintf("UsePasskey with counter %d after 11: result", c), got, want)
	}
	e.wantPasskey("after the refused uses", want)

	// Any higher counter goes, a jump included.
	at2 := base.Add(2 * time.Hour)
	want = used(want, 4_000_000_000, false, at2)
	if got, ok := e.use(in.ID, 4_000_000_000, false, at2); !ok {
		e.t.Errorf("UsePasskey with counter 4000000000 after 11: got false, want true")
	} else {
		checkPasskey(e.t, "UsePasskey with a jump: result", got, want)
	}
	e.wantPasskey("after the jump", want)
	e.wantList("after the uses", in.UserID, other, want)

	if _, ok, err := e.s.UsePasskey(e.t.Context(), "unknown", 99, false, base); ok || !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("UsePasskey(unknown): got %t, %v; want false and %v", ok, err, store.ErrNotFound)
	}
}

func testPasskeyUseZero(e *passkeyEnv) {
	base := passkeyBase()
	in := e.create(newPasskey("zero", e.user("a"), []byte("cred-zero"), base.Add(-time.Hour)))
	// An authenticator without a counter reports zero every time.
	want := in
	for i := range 3 {
		at := base.Add(time.Duration(i) * time.Minute)
		want = used(want, 0, i%2 == 0, at)
		got, ok := e.use(in.ID, 0, i%2 == 0, at)
		if !ok {
			e.t.Errorf("use %d with counter 0 after 0: got false, want true", i+1)
		}
		checkPasskey(e.t, fmt.Sprintf("use %d with counter 0: result", i+1), got, want)
	}
	e.wantPasskey("after uses without a counter", want)
	// Once it counts, zero is a step back.
	want = used(want, 1, false, base.Add(time.Hour))
	if _, ok := e.use(in.ID, 1, false, base.Add(time.Hour)); !ok {
		e.t.Errorf("UsePasskey with counter 1 after 0: got false, want true")
	}
	if got, ok := e.use(in.ID, 0, false, base.Add(2*time.Hour)); ok {
		e.t.Errorf("UsePasskey with counter 0 after 1: got true, want false")
	} else {
		checkPasskey(e.t, "UsePasskey with counter 0 after 1: result", got, want)
	}
	e.wantPasskey("after a counter back to zero", want)
}

func testPasskeyConcurrentUse(e *passkeyEnv) {
	for r := range raceRounds {
		testPasskeyConcurrentUseRound(e, r)
	}
}

func testPasskeyConcurrentUseRound(e *passkeyEnv, round int) {
	const n = 20
	base := passkeyBase()
	id := fmt.Sprint("race-", round)
	in := newPasskey(id, e.user("a"), []byte(id), base)
	in.SignCount = 5
	e.create(in)
	got := make([]store.Passkey, n)
	oks := make([]bool, n)
	errs := make([]error, n)
	at := func(i int) time.Time { return base.Add(time.Duration(i+1) * time.Second) }
	start(n, func(i int) {
		runtime.Gosched()
		got[i], oks[i], errs[i] = e.s.UsePasskey(e.t.Context(), id, 6, i%2 == 0, at(i))
	})
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			e.t.Errorf("%s: goroutine %d: UsePasskey: got error %v, want nil", id, i, errs[i])
		case oks[i] && winner >= 0:
			e.t.Errorf("%s: goroutine %d: UsePasskey: got true, want false (goroutine %d already used counter 6)", id, i, winner)
		case oks[i]:
			winner = i
		}
	}
	if winner < 0 {
		e.t.Fatalf("%s: UsePasskey winners: got 0, want exactly 1", id)
	}
	want := used(in, 6, winner%2 == 0, at(winner))
	for i := range n {
		// A loser found the winner's use in place.
		if errs[i] == nil {
			checkPasskey(e.t, fmt.Sprintf("%s: goroutine %d: UsePasskey result", id, i), got[i], want)
		}
	}
	e.wantPasskey(id+": after concurrent uses", want)
}

func testPasskeyRename(e *passkeyEnv) {
	base := passkeyBase()
	a, b := e.user("a"), e.user("b")
	mine := e.create(newPasskey("mine", a, []byte("cred-mine"), base))
	theirs := e.create(newPasskey("theirs", b, []byte("cred-theirs"), base))

	want := mine
	want.Name = "Laptop — ✓"
	got, err := e.s.RenamePasskey(e.t.Context(), a, mine.ID, want.Name)
	if err != nil {
		e.t.Fatalf("RenamePasskey of the user's passkey: got error %v, want nil", err)
	}
	checkPasskey(e.t, "RenamePasskey result", got, want)
	e.wantPasskey("after RenamePasskey", want)

	for _, c := range []struct{ label, user, id string }{
		{"another user's passkey", a, theirs.ID},
		{"an unknown passkey", a, "unknown"},
		{"a passkey of an unknown user", "user-unknown", mine.ID},
	} {
		if p, err := e.s.RenamePasskey(e.t.Context(), c.user, c.id, "stolen"); !errors.Is(err, store.ErrNotFound) {
			e.t.Errorf("RenamePasskey of %s: got %+v, %v; want %v", c.label, p, err, store.ErrNotFound)
		}
	}
	e.wantPasskey("after the refused renames", want)
	e.wantPasskey("after the refused renames", theirs)
}

func testPasskeyDelete(e *passkeyEnv) {
	base := passkeyBase()
	a, b := e.user("a"), e.user("b")
	mine := e.create(fullPasskey("mine", a, 1))
	kept := e.create(newPasskey("kept", a, []byte("cred-kept"), base))
	theirs := e.create(newPasskey("theirs", b, []byte("cred-theirs"), base))

	for _, c := range []struct{ label, user, id string }{
		{"another user's passkey", a, theirs.ID},
		{"an unknown passkey", a, "unknown"},
		{"a passkey of another user ID", b, mine.ID},
	} {
		if p, err := e.s.DeletePasskey(e.t.Context(), c.user, c.id); !errors.Is(err, store.ErrNotFound) {
			e.t.Errorf("DeletePasskey of %s: got %+v, %v; want %v", c.label, p, err, store.ErrNotFound)
		}
	}
	e.wantList("after the refused deletions", a, mine, kept)
	e.wantList("after the refused deletions", b, theirs)

	got, err := e.s.DeletePasskey(e.t.Context(), a, mine.ID)
	if err != nil {
		e.t.Fatalf("DeletePasskey of the user's passkey: got error %v, want nil", err)
	}
	checkPasskey(e.t, "DeletePasskey result", got, mine)
	e.wantNoCredential("after DeletePasskey", mine.CredentialID)
	e.wantList("after DeletePasskey", a, kept)
	if _, err := e.s.DeletePasskey(e.t.Context(), a, mine.ID); !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("second DeletePasskey: got error %v, want %v", err, store.ErrNotFound)
	}
	if _, ok, err := e.s.UsePasskey(e.t.Context(), mine.ID, mine.SignCount+1, false, base); ok || !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("UsePasskey of the deleted passkey: got %t, %v; want false and %v", ok, err, store.ErrNotFound)
	}
	// The deleted passkey's credential ID and ID are free again.
	again := e.create(newPasskey(mine.ID, b, mine.CredentialID, base.Add(time.Second)))
	e.wantPasskey("after registering the credential again", again)
	e.wantList("after registering the credential again", b, theirs, again)
}

// passkeyCalls returns a call of each PasskeyStore method of st, on the
// stored passkey p. No call changes anything when it fails.
func passkeyCalls(st store.PasskeyStore, p store.Passkey) []call {
	at := passkeyBase()
	return []call{
		{"CreatePasskey", func(ctx context.Context) error {
			return st.CreatePasskey(ctx, newPasskey("created-"+p.ID, p.UserID, []byte("created"), at))
		}},
		{"PasskeysByUser", func(ctx context.Context) error { _, err := st.PasskeysByUser(ctx, p.UserID); return err }},
		{"PasskeyByCredentialID", func(ctx context.Context) error {
			_, err := st.PasskeyByCredentialID(ctx, p.CredentialID)
			return err
		}},
		{"UsePasskey", func(ctx context.Context) error {
			_, _, err := st.UsePasskey(ctx, p.ID, p.SignCount+1, false, at)
			return err
		}},
		{"RenamePasskey", func(ctx context.Context) error {
			_, err := st.RenamePasskey(ctx, p.UserID, p.ID, "renamed")
			return err
		}},
		{"DeletePasskey", func(ctx context.Context) error { _, err := st.DeletePasskey(ctx, p.UserID, p.ID); return err }},
	}
}

func testPasskeyEndedContext(e *passkeyEnv) {
	p := e.create(fullPasskey("ended", e.user("a"), 1))
	checkEndedContext(e.t, e.t.Context(), passkeyCalls(e.s, p))
	e.wantPasskey("after the calls with an ended context", p)
	e.wantNoCredential("the passkey CreatePasskey was asked for with an ended context", []byte("created"))
	e.wantList("after the calls with an ended context", p.UserID, p)
}

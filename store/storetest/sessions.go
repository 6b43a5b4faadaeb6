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

// SessionHarness is a store.SessionStore under test together with what the
// cases that need more than the store use.
type SessionHarness struct {
	// Store is the store under test, fresh and empty.
	Store store.SessionStore
	// Break makes Store's backend unreachable for the rest of the case,
	// as UserHarness.Break does. Nil means the store has no backend to
	// lose (an in-memory store): the Outage case is skipped.
	Break func()
	// ExpiresByItself says that the store deletes a session by itself,
	// on real time, once the earlier of its IdleExpiresAt and ExpiresAt
	// has passed (as Redis does with key expiry), so that PurgeSessions
	// has nothing left to delete and may return 0. The Purge case then
	// checks that expiry instead, sleeping a few hundred milliseconds,
	// and that PurgeSessions keeps the live sessions. False means sessions
	// stay until PurgeSessions deletes them.
	ExpiresByItself bool
}

// RunSessionStore runs the store.SessionStore conformance suite on a store
// whose sessions stay until PurgeSessions deletes them. newStore returns a
// fresh, empty store for each subtest and registers any cleanup with
// t.Cleanup. The Outage case is skipped: use RunSessionStoreHarness to run
// it, or to prove a store whose sessions expire by themselves.
//
// The suite checks that every field survives a round trip (times compared
// to the microsecond, whatever their location) and the zero times stay
// zero; that a taken ID is refused and changes nothing; that unknown IDs
// give store.ErrNotFound; that SessionsByUser lists only the user's
// sessions, newest first and ties by ID; that stores hand out copies; that
// RotateSession applies every field only when the refresh ID matches and
// the session is live, and otherwise returns the stored session and false;
// that of many goroutines rotating from one refresh ID exactly one wins
// and the others see the winner's rotation; that a session is revoked once
// and cannot be rotated after; that RevokeUserSessions revokes exactly the
// user's live sessions but the one excepted; that PurgeSessions deletes
// exactly the sessions whose IdleExpiresAt or ExpiresAt is before its
// argument, revoked or not; and that every method called with a context
// that has already ended (past its deadline or cancelled) returns an error
// wrapping store.ErrUnavailable and the context's error, and changes
// nothing.
func RunSessionStore(t *testing.T, newStore func(t *testing.T) store.SessionStore) {
	t.Helper()
	RunSessionStoreHarness(t, func(t *testing.T) SessionHarness {
		return SessionHarness{Store: newStore(t)}
	})
}

// RunSessionStoreHarness runs the store.SessionStore conformance suite of
// RunSessionStore, plus the Outage case when the harness has a Break
// function: with the backend unreachable, every method must return an
// error wrapping store.ErrUnavailable within the 5 s deadline of its
// context. When the harness says ExpiresByItself, the Purge case checks
// expiry on real time instead of PurgeSessions' deletions. newHarness
// returns a fresh, empty store for each subtest and registers any cleanup
// with t.Cleanup.
func RunSessionStoreHarness(t *testing.T, newHarness func(t *testing.T) SessionHarness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(e sessionEnv)
	}{
		{"RoundTripFullSession", testSessionRoundTripFull},
		{"RoundTripLiveSession", testSessionRoundTripLive},
		{"CreateDuplicateID", testSessionCreateDuplicate},
		{"UnknownSession", testSessionUnknown},
		{"SessionsByUserNewestFirst", testSessionsByUser},
		{"ReturnedSessionsAreCopies", testSessionCopies},
		{"RotateApplies", testRotateApplies},
		{"RotateFromOtherRefreshID", testRotateWrongFrom},
		{"RotateRevokedSession", testRotateRevoked},
		{"RotateAndRevokeUnknown", testRotateRevokeUnknown},
		{"ConcurrentRotate", testConcurrentRotate},
		{"RevokeOnce", testRevokeOnce},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"Purge", testPurge},
		{"EndedContextIsUnavailable", testSessionEndedContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.run(sessionEnv{t: t, s: h.Store, expires: h.ExpiresByItself})
		})
	}
	t.Run("Outage", func(t *testing.T) {
		h := newHarness(t)
		if h.Break == nil {
			t.Skip("the harness has no Break function: the store has no backend to lose")
		}
		e := sessionEnv{t: t, s: h.Store, expires: h.ExpiresByItself}
		s := e.create(fullSession("outage", "user-outage"))
		h.Break()
		checkOutage(t, t.Context(), sessionCalls(h.Store, s))
	})
}

// sessionEnv is one case's store.
type sessionEnv struct {
	t       *testing.T
	s       store.SessionStore
	expires bool // the harness's ExpiresByItself
}

// sessionBase returns the instant the suite's sessions are built around:
// now, to the microsecond, with its monotonic reading. Their expiries lie
// hours or days after it, so that a store that expires sessions on real
// time keeps them for the case.
func sessionBase() time.Time {
	return wholeMicro(time.Now())
}

// fullSession returns a revoked, rotated session with every field set to a
// distinctive value, its times in several locations.
func fullSession(id, userID string) store.Session {
	base := sessionBase()
	east := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	west := time.FixedZone("UTC-7", -7*60*60)
	return store.Session{
		ID:                id,
		UserID:            userID,
		CreatedAt:         time.Date(2024, time.March, 4, 5, 6, 7, 123456000, east),
		LastUsedAt:        base.Add(-time.Minute),
		IdleExpiresAt:     base.Add(14 * 24 * time.Hour).In(west),
		ExpiresAt:         base.Add(30 * 24 * time.Hour).In(east),
		IP:                "203.0.113.7",
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		LastIP:            "2001:db8::1",
		LastUserAgent:     "Mozilla/5.0 (Android 15) — ünïcödé ✓",
		Label:             "Firefox on Linux",
		RefreshID:         "refresh-" + id + "-2",
		PreviousRefreshID: "refresh-" + id + "-1",
		RotatedAt:         base.Add(-time.Minute).In(time.Local),
		RevokedAt:         base.Add(-time.Second).In(west),
		RevokeReason:      "refresh_token_reuse",
	}
}

// liveSession returns a session as a login creates it: never rotated, not
// revoked, created at created, idle for 14 days and over after 30.
func liveSession(id, userID string, created time.Time) store.Session {
	return store.Session{
		ID:            id,
		UserID:        userID,
		CreatedAt:     created,
		LastUsedAt:    created,
		IdleExpiresAt: created.Add(14 * 24 * time.Hour),
		ExpiresAt:     created.Add(30 * 24 * time.Hour),
		IP:            "198.51.100.1",
		UserAgent:     "curl/8.0",
		Label:         "curl",
		RefreshID:     "refresh-" + id + "-0",
	}
}

// normalizeSession returns s in the form the suite compares: times
// truncated to microseconds in UTC without a monotonic reading.
func normalizeSession(s store.Session) store.Session {
	for _, p := range []*time.Time{&s.CreatedAt, &s.LastUsedAt, &s.IdleExpiresAt, &s.ExpiresAt, &s.RotatedAt, &s.RevokedAt} {
		*p = normalizeTime(*p)
	}
	return s
}

// checkSession reports every field of got that differs from want.
func checkSession(t *testing.T, label string, got, want store.Session) {
	t.Helper()
	g, w := reflect.ValueOf(normalizeSession(got)), reflect.ValueOf(normalizeSession(want))
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			t.Errorf("%s: Session.%s: got %v, want %v", label, g.Type().Field(i).Name, gf, wf)
		}
	}
}

func (e sessionEnv) create(s store.Session) store.Session {
	e.t.Helper()
	if err := e.s.CreateSession(e.t.Context(), s); err != nil {
		e.t.Fatalf("CreateSession(%q): got error %v, want nil", s.ID, err)
	}
	return s
}

func (e sessionEnv) byID(id string) store.Session {
	e.t.Helper()
	s, err := e.s.SessionByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("SessionByID(%q): got error %v, want nil", id, err)
	}
	return s
}

// wantSession checks that the stored session want.ID is want.
func (e sessionEnv) wantSession(label string, want store.Session) {
	e.t.Helper()
	checkSession(e.t, label+": SessionByID("+want.ID+")", e.byID(want.ID), want)
}

// wantGone checks that SessionByID(id) returns store.ErrNotFound.
func (e sessionEnv) wantGone(label, id string) {
	e.t.Helper()
	if s, err := e.s.SessionByID(e.t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("%s: SessionByID(%q): got %+v and error %v, want %v", label, id, s, err, store.ErrNotFound)
	}
}

func (e sessionEnv) byUser(userID string) []store.Session {
	e.t.Helper()
	ss, err := e.s.SessionsByUser(e.t.Context(), userID)
	if err != nil {
		e.t.Fatalf("SessionsByUser(%q): got error %v, want nil", userID, err)
	}
	return ss
}

// wantIDs checks that SessionsByUser(userID) returns the sessions want,
// in order, field by field.
func (e sessionEnv) wantIDs(label, userID string, want ...store.Session) {
	e.t.Helper()
	got := e.byUser(userID)
	ids := func(ss []store.Session) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = s.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		e.t.Errorf("%s: SessionsByUser(%q) IDs: got %q, want %q", label, userID, ids(got), ids(want))
		return
	}
	for i := range got {
		checkSession(e.t, fmt.Sprintf("%s: SessionsByUser(%q)[%d]", label, userID, i), got[i], want[i])
	}
}

func (e sessionEnv) rotate(id, from string, r store.Rotation) (store.Session, bool) {
	e.t.Helper()
	s, ok, err := e.s.RotateSession(e.t.Context(), id, from, r)
	if err != nil {
		e.t.Fatalf("RotateSession(%q, %q): got error %v, want nil", id, from, err)
	}
	return s, ok
}

func (e sessionEnv) revoke(id string, at time.Time, reason string) (store.Session, bool) {
	e.t.Helper()
	s, ok, err := e.s.RevokeSession(e.t.Context(), id, at, reason)
	if err != nil {
		e.t.Fatalf("RevokeSession(%q): got error %v, want nil", id, err)
	}
	return s, ok
}

func (e sessionEnv) revokeUser(userID, except string, at time.Time, reason string) int {
	e.t.Helper()
	n, err := e.s.RevokeUserSessions(e.t.Context(), userID, except, at, reason)
	if err != nil {
		e.t.Fatalf("RevokeUserSessions(%q, %q): got error %v, want nil", userID, except, err)
	}
	return n
}

// rotation returns a rotation to the refresh ID to at at, in a location
// other than UTC.
func rotation(to string, at time.Time) store.Rotation {
	return store.Rotation{
		To:            to,
		At:            at.In(time.FixedZone("UTC+1", 60*60)),
		IdleExpiresAt: at.Add(14 * 24 * time.Hour).In(time.FixedZone("UTC-3", -3*60*60)),
		IP:            "192.0.2.99",
		UserAgent:     "Rotated/1.0 (" + to + ")",
	}
}

// rotated returns s as RotateSession from s.RefreshID by r leaves it.
func rotated(s store.Session, r store.Rotation) store.Session {
	s.PreviousRefreshID = s.RefreshID
	s.RefreshID = r.To
	s.RotatedAt = r.At
	s.LastUsedAt = r.At
	s.IdleExpiresAt = r.IdleExpiresAt
	s.LastIP = r.IP
	s.LastUserAgent = r.UserAgent
	return s
}

func testSessionRoundTripFull(e sessionEnv) {
	in := fullSession("full", "user-full")
	e.create(in)
	e.wantSession("after CreateSession", in)
	e.wantIDs("after CreateSession", in.UserID, in)
}

func testSessionRoundTripLive(e sessionEnv) {
	in := liveSession("live", "user-live", sessionBase())
	in.IP, in.UserAgent, in.Label = "", "", ""
	e.create(in)
	got := e.byID(in.ID)
	checkSession(e.t, "SessionByID", got, in)
	if !got.RotatedAt.IsZero() || !got.RevokedAt.IsZero() {
		e.t.Errorf("SessionByID: got RotatedAt %v RevokedAt %v, want the zero time for both", got.RotatedAt, got.RevokedAt)
	}
	e.wantIDs("after CreateSession", in.UserID, in)
}

func testSessionCreateDuplicate(e sessionEnv) {
	first := e.create(liveSession("dup", "user-a", sessionBase()))
	second := fullSession("dup", "user-b")
	err := e.s.CreateSession(e.t.Context(), second)
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		e.t.Errorf("CreateSession with a taken ID: got error %v, want one wrapping neither %v nor %v",
			err, store.ErrNotFound, store.ErrUnavailable)
	}
	e.wantSession("after the refused CreateSession", first)
	e.wantIDs("after the refused CreateSession", "user-a", first)
	e.wantIDs("after the refused CreateSession", "user-b")
}

func testSessionUnknown(e sessionEnv) {
	e.create(liveSession("known", "user-a", sessionBase()))
	for _, id := range []string{"unknown", "know", "known2", ""} {
		e.wantGone("unknown ID", id)
	}
	for _, user := range []string{"user-b", "user-", ""} {
		if got := e.byUser(user); len(got) != 0 {
			e.t.Errorf("SessionsByUser(%q): got %d sessions, want none", user, len(got))
		}
	}
}

func testSessionsByUser(e sessionEnv) {
	base := sessionBase()
	// Created out of order; b and a share their CreatedAt, so ID order
	// decides between them.
	s1 := e.create(liveSession("s1", "user-a", base.Add(-3*time.Hour)))
	s3 := e.create(liveSession("s3", "user-a", base.Add(-1*time.Hour)))
	tieB := e.create(liveSession("b", "user-a", base.Add(-2*time.Hour)))
	tieA := e.create(liveSession("a", "user-a", base.Add(-2*time.Hour)))
	e.create(liveSession("other", "user-b", base))
	revoked := fullSession("revoked", "user-a") // created in 2024: oldest
	e.create(revoked)
	e.wantIDs("newest first, ties by ID", "user-a", s3, tieA, tieB, s1, revoked)
	e.wantIDs("another user", "user-b", liveSession("other", "user-b", base))
	e.wantIDs("unknown user", "user-c")
}

func testSessionCopies(e sessionEnv) {
	in := fullSession("copies", "user-a")
	want := in
	e.create(in)
	tamper := func(s *store.Session) {
		s.RefreshID = "tampered"
		s.RevokedAt = time.Time{}
		s.IdleExpiresAt = s.IdleExpiresAt.Add(time.Hour)
		s.UserID = "user-b"
	}
	tamper(&in)
	got := e.byID(want.ID)
	tamper(&got)
	list := e.byUser(want.UserID)
	for i := range list {
		tamper(&list[i])
	}
	rs, _ := e.rotate(want.ID, "not-the-refresh-id", rotation("r", sessionBase()))
	tamper(&rs)
	vs, _ := e.revoke(want.ID, sessionBase(), "again")
	tamper(&vs)
	e.wantSession("after mutating what the store took and returned", want)
	e.wantIDs("after mutating what the store took and returned", want.UserID, want)
}

func testRotateApplies(e sessionEnv) {
	base := sessionBase()
	in := e.create(liveSession("rot", "user-a", base.Add(-time.Hour)))
	other := e.create(liveSession("other", "user-a", base.Add(-2*time.Hour)))

	r1 := rotation("refresh-rot-1", base)
	want := rotated(in, r1)
	got, ok := e.rotate(in.ID, in.RefreshID, r1)
	if !ok {
		e.t.Errorf("RotateSession from the current refresh ID: got false, want true")
	}
	checkSession(e.t, "RotateSession result", got, want)
	e.wantSession("after RotateSession", want)

	// The next rotation starts from the new refresh ID.
	r2 := rotation("refresh-rot-2", base.Add(time.Minute))
	want2 := rotated(want, r2)
	got, ok = e.rotate(in.ID, r1.To, r2)
	if !ok {
		e.t.Errorf("second RotateSession from the new refresh ID: got false, want true")
	}
	checkSession(e.t, "second RotateSession result", got, want2)
	e.wantSession("after the second RotateSession", want2)
	e.wantIDs("after two rotations", "user-a", want2, other)
}

func testRotateWrongFrom(e sessionEnv) {
	base := sessionBase()
	in := e.create(liveSession("rot", "user-a", base))
	r1 := rotation("refresh-1", base)
	want, _ := e.rotate(in.ID, in.RefreshID, r1)
	for _, from := range []string{in.RefreshID, "refresh-unknown", "", "refresh-1x"} {
		got, ok := e.rotate(in.ID, from, rotation("refresh-from-"+from, base.Add(time.Hour)))
		if ok {
			e.t.Errorf("RotateSession from %q (current %q): got true, want false", from, r1.To)
		}
		checkSession(e.t, fmt.Sprintf("RotateSession from %q result", from), got, rotated(in, r1))
	}
	e.wantSession("after the refused rotations", want)
}

func testRotateRevoked(e sessionEnv) {
	base := sessionBase()
	in := e.create(liveSession("rot", "user-a", base))
	revoked, ok := e.revoke(in.ID, base.Add(time.Second), "logout")
	if !ok {
		e.t.Fatalf("RevokeSession: got false, want true")
	}
	got, ok := e.rotate(in.ID, in.RefreshID, rotation("refresh-after-revoke", base.Add(time.Minute)))
	if ok {
		e.t.Errorf("RotateSession of a revoked session: got true, want false")
	}
	checkSession(e.t, "RotateSession of a revoked session: result", got, revoked)
	e.wantSession("after RotateSession of a revoked session", revoked)

	// A session stored revoked cannot be rotated either.
	full := e.create(fullSession("full", "user-a"))
	got, ok = e.rotate(full.ID, full.RefreshID, rotation("refresh-x", base))
	if ok {
		e.t.Errorf("RotateSession of a session created revoked: got true, want false")
	}
	checkSession(e.t, "RotateSession of a session created revoked: result", got, full)
	e.wantSession("after RotateSession of a session created revoked", full)
}

func testRotateRevokeUnknown(e sessionEnv) {
	base := sessionBase()
	in := e.create(liveSession("known", "user-a", base))
	ctx := e.t.Context()
	for _, id := range []string{"unknown", ""} {
		if _, ok, err := e.s.RotateSession(ctx, id, in.RefreshID, rotation("r", base)); ok || !errors.Is(err, store.ErrNotFound) {
			e.t.Errorf("RotateSession(%q): got %t, %v; want false and %v", id, ok, err, store.ErrNotFound)
		}
		if _, ok, err := e.s.RevokeSession(ctx, id, base, "logout"); ok || !errors.Is(err, store.ErrNotFound) {
			e.t.Errorf("RevokeSession(%q): got %t, %v; want false and %v", id, ok, err, store.ErrNotFound)
		}
		e.wantGone("after RotateSession and RevokeSession", id)
	}
	e.wantSession("after calls on unknown IDs", in)
}

func testConcurrentRotate(e sessionEnv) {
	for r := range raceRounds {
		testConcurrentRotateRound(e, fmt.Sprint("race-", r))
	}
}

func testConcurrentRotateRound(e sessionEnv, id string) {
	const n = 20
	base := sessionBase()
	in := e.create(liveSession(id, "user-a", base))
	got := make([]store.Session, n)
	oks := make([]bool, n)
	errs := make([]error, n)
	rots := make([]store.Rotation, n)
	for i := range n {
		rots[i] = rotation(fmt.Sprintf("refresh-%s-%02d", id, i), base.Add(time.Duration(i+1)*time.Second))
	}
	start(n, func(i int) {
		runtime.Gosched()
		got[i], oks[i], errs[i] = e.s.RotateSession(e.t.Context(), id, in.RefreshID, rots[i])
	})
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			e.t.Errorf("%s: goroutine %d: RotateSession: got error %v, want nil", id, i, errs[i])
		case oks[i] && winner >= 0:
			e.t.Errorf("%s: goroutine %d: RotateSession: got true, want false (goroutine %d already rotated)", id, i, winner)
		case oks[i]:
			winner = i
		}
	}
	if winner < 0 {
		e.t.Fatalf("%s: RotateSession winners: got 0, want exactly 1", id)
	}
	want := rotated(in, rots[winner])
	for i := range n {
		// A loser's rotation found the winner's in place: it returns the
		// session as the winner left it.
		if errs[i] == nil {
			checkSession(e.t, fmt.Sprintf("%s: goroutine %d: RotateSession result", id, i), got[i], want)
		}
	}
	e.wantSession(id+": after concurrent rotations", want)
}

func testRevokeOnce(e sessionEnv) {
	base := sessionBase()
	in := e.create(liveSession("rev", "user-a", base))
	other := e.create(liveSession("other", "user-a", base.Add(-time.Hour)))
	at := base.Add(time.Minute).In(time.FixedZone("UTC+9", 9*60*60))
	want := in
	want.RevokedAt, want.RevokeReason = at, "logout"
	got, ok := e.revoke(in.ID, at, "logout")
	if !ok {
		e.t.Errorf("first RevokeSession: got false, want true")
	}
	checkSession(e.t, "first RevokeSession result", got, want)
	got, ok = e.revoke(in.ID, at.Add(time.Hour), "revoked")
	if ok {
		e.t.Errorf("second RevokeSession: got true, want false")
	}
	checkSession(e.t, "second RevokeSession result", got, want)
	e.wantSession("after two RevokeSession calls", want)
	e.wantSession("another session of the user", other)
}

func testConcurrentRevoke(e sessionEnv) {
	const n = 20
	base := sessionBase()
	in := e.create(liveSession("rev", "user-a", base))
	oks := make([]bool, n)
	errs := make([]error, n)
	got := make([]store.Session, n)
	at := func(i int) time.Time { return base.Add(time.Duration(i+1) * time.Second) }
	start(n, func(i int) {
		got[i], oks[i], errs[i] = e.s.RevokeSession(e.t.Context(), in.ID, at(i), fmt.Sprint("reason-", i))
	})
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			e.t.Errorf("goroutine %d: RevokeSession: got error %v, want nil", i, errs[i])
		case oks[i] && winner >= 0:
			e.t.Errorf("goroutine %d: RevokeSession: got true, want false (goroutine %d already revoked)", i, winner)
		case oks[i]:
			winner = i
		}
	}
	if winner < 0 {
		e.t.Fatalf("RevokeSession winners: got 0, want exactly 1")
	}
	want := in
	want.RevokedAt, want.RevokeReason = at(winner), fmt.Sprint("reason-", winner)
	for i := range n {
		if errs[i] == nil {
			checkSession(e.t, fmt.Sprintf("goroutine %d: RevokeSession result", i), got[i], want)
		}
	}
	e.wantSession("after concurrent revocations", want)
}

func testRevokeUserSessions(e sessionEnv) {
	base := sessionBase()
	s1 := e.create(liveSession("s1", "user-a", base.Add(-1*time.Hour)))
	s2 := e.create(liveSession("s2", "user-a", base.Add(-2*time.Hour)))
	kept := e.create(liveSession("kept", "user-a", base.Add(-3*time.Hour)))
	old := e.create(fullSession("old", "user-a")) // already revoked
	bob := e.create(liveSession("bob", "user-b", base))
	bobOld := e.create(fullSession("bob-old", "user-b"))

	at := base.Add(time.Minute)
	if n := e.revokeUser("user-a", kept.ID, at, "revoked"); n != 2 {
		e.t.Errorf("RevokeUserSessions(user-a, except kept): got %d, want 2", n)
	}
	w1, w2 := s1, s2
	w1.RevokedAt, w1.RevokeReason = at, "revoked"
	w2.RevokedAt, w2.RevokeReason = at, "revoked"
	e.wantIDs("after RevokeUserSessions(user-a, except kept)", "user-a", w1, w2, kept, old)
	e.wantIDs("after RevokeUserSessions(user-a, except kept)", "user-b", bob, bobOld)

	if n := e.revokeUser("user-a", kept.ID, at.Add(time.Hour), "again"); n != 0 {
		e.t.Errorf("second RevokeUserSessions(user-a, except kept): got %d, want 0", n)
	}
	if n := e.revokeUser("user-c", "", at, "revoked"); n != 0 {
		e.t.Errorf("RevokeUserSessions(unknown user): got %d, want 0", n)
	}
	// An except of another user's session, or of none, excepts nothing.
	at2 := at.Add(2 * time.Hour)
	if n := e.revokeUser("user-a", bob.ID, at2, "logout_all"); n != 1 {
		e.t.Errorf("RevokeUserSessions(user-a, except bob's session): got %d, want 1", n)
	}
	wk := kept
	wk.RevokedAt, wk.RevokeReason = at2, "logout_all"
	e.wantIDs("after revoking the last one", "user-a", w1, w2, wk, old)
	e.wantIDs("after revoking the last one", "user-b", bob, bobOld)
	if n := e.revokeUser("user-b", "", at2, "logout_all"); n != 1 {
		e.t.Errorf("RevokeUserSessions(user-b, no except): got %d, want 1", n)
	}
}

func testPurge(e sessionEnv) {
	if e.expires {
		testExpiresByItself(e)
		return
	}
	base := sessionBase()
	before := base.Add(10 * 24 * time.Hour)
	created := 0
	mk := func(id string, idle, abs time.Duration, revoke bool) store.Session {
		created++ // each one older than the one before
		s := liveSession(id, "user-a", base.Add(-time.Duration(created)*time.Minute))
		s.IdleExpiresAt, s.ExpiresAt = before.Add(idle), before.Add(abs)
		if revoke {
			s.RevokedAt, s.RevokeReason = base, "logout"
		}
		return e.create(s)
	}
	idleGone := mk("idle-gone", -time.Microsecond, time.Hour, false)
	absGone := mk("abs-gone", time.Hour, -time.Hour, false)
	revokedGone := mk("revoked-gone", -time.Hour, -time.Hour, true)
	atBefore := mk("at-before", 0, 0, false) // not before before: kept
	live := mk("live", time.Hour, 2*time.Hour, false)
	revokedLive := mk("revoked-live", time.Microsecond, time.Hour, true)
	other := e.create(liveSession("other", "user-b", base))

	n, err := e.s.PurgeSessions(e.t.Context(), before)
	if err != nil || n != 3 {
		e.t.Errorf("PurgeSessions: got %d, %v; want 3, nil", n, err)
	}
	for _, s := range []store.Session{idleGone, absGone, revokedGone} {
		e.wantGone("after PurgeSessions", s.ID)
	}
	e.wantIDs("after PurgeSessions", "user-a", atBefore, live, revokedLive)
	e.wantIDs("after PurgeSessions", "user-b", other)
	if n, err := e.s.PurgeSessions(e.t.Context(), before); err != nil || n != 0 {
		e.t.Errorf("second PurgeSessions: got %d, %v; want 0, nil", n, err)
	}
	// A purged ID is free again.
	e.create(liveSession(idleGone.ID, "user-c", base))
	e.wantIDs("after reusing a purged ID", "user-c", liveSession(idleGone.ID, "user-c", base))
}

// testExpiresByItself is the Purge case of a store whose sessions expire on
// real time: a session is gone once its IdleExpiresAt or its ExpiresAt has
// passed, a rotation extends its life to its new IdleExpiresAt, and
// PurgeSessions keeps the live sessions.
func testExpiresByItself(e sessionEnv) {
	base := sessionBase()
	mk := func(id string, idle, abs time.Duration, created time.Duration) store.Session {
		s := liveSession(id, "user-a", base.Add(created))
		s.IdleExpiresAt, s.ExpiresAt = base.Add(idle), base.Add(abs)
		return e.create(s)
	}
	// The premise holds only while less than realTTL has passed since base.
	alive := func() bool { return time.Since(base) < realTTL }
	idleGone := mk("idle-gone", realTTL, time.Hour, -4*time.Minute)
	absGone := mk("abs-gone", time.Hour, realTTL, -3*time.Minute)
	extended := mk("extended", realTTL, time.Hour, -2*time.Minute)
	revoked := mk("revoked", time.Hour, time.Hour, -time.Minute)
	r := store.Rotation{To: "refresh-extended-1", At: base, IdleExpiresAt: base.Add(time.Hour), IP: "192.0.2.1", UserAgent: "ua"}
	extended, ok := e.rotate(extended.ID, extended.RefreshID, r)
	if !ok {
		e.t.Fatalf("RotateSession(extended): got false, want true")
	}
	revoked, _ = e.revoke(revoked.ID, base, "logout")
	if !alive() {
		e.t.Skip("the machine took longer than the sessions' idle time to create them; skipping this real-time case")
	}
	time.Sleep(realTTL + realSlack)
	e.wantGone("after its IdleExpiresAt", idleGone.ID)
	e.wantGone("after its ExpiresAt", absGone.ID)
	e.wantIDs("after two sessions expired", "user-a", revoked, extended)
	if n, err := e.s.PurgeSessions(e.t.Context(), time.Now()); err != nil || n < 0 {
		e.t.Errorf("PurgeSessions: got %d, %v; want a count of at least 0, nil", n, err)
	}
	e.wantIDs("after PurgeSessions", "user-a", revoked, extended)
}

// sessionCalls returns a call of each SessionStore method of st, on the
// stored session s. No call changes anything when it fails.
func sessionCalls(st store.SessionStore, s store.Session) []call {
	at := sessionBase()
	return []call{
		{"CreateSession", func(ctx context.Context) error {
			return st.CreateSession(ctx, liveSession("created-"+s.ID, s.UserID, at))
		}},
		{"SessionByID", func(ctx context.Context) error { _, err := st.SessionByID(ctx, s.ID); return err }},
		{"SessionsByUser", func(ctx context.Context) error { _, err := st.SessionsByUser(ctx, s.UserID); return err }},
		{"RotateSession", func(ctx context.Context) error {
			_, _, err := st.RotateSession(ctx, s.ID, s.RefreshID, rotation("refresh-new", at))
			return err
		}},
		{"RevokeSession", func(ctx context.Context) error {
			_, _, err := st.RevokeSession(ctx, s.ID, at, "logout")
			return err
		}},
		{"RevokeUserSessions", func(ctx context.Context) error {
			_, err := st.RevokeUserSessions(ctx, s.UserID, "", at, "logout_all")
			return err
		}},
		{"PurgeSessions", func(ctx context.Context) error {
			_, err := st.PurgeSessions(ctx, at.AddDate(100, 0, 0))
			return err
		}},
	}
}

func testSessionEndedContext(e sessionEnv) {
	s := e.create(liveSession("ended", "user-a", sessionBase()))
	checkEndedContext(e.t, e.t.Context(), sessionCalls(e.s, s))
	e.wantSession("after the calls with an ended context", s)
	e.wantGone("the session CreateSession was asked for with an ended context", "created-"+s.ID)
	e.wantIDs("after the calls with an ended context", s.UserID, s)
}

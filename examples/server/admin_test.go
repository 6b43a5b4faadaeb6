package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/sqlite"
)

// cliDB is a temporary SQLite user database for the admin commands.
type cliDB struct {
	t    *testing.T
	dir  string
	path string
}

func newCLIDB(t *testing.T) *cliDB {
	dir := t.TempDir()
	return &cliDB{t: t, dir: dir, path: filepath.Join(dir, "a.db")}
}

// with opens the database, runs fn and closes it again, so that the
// command under test is the only one with the file open.
func (d *cliDB) with(fn func(s *sqlite.Store)) {
	d.t.Helper()
	s, err := sqlite.Open(d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer s.Close()
	fn(s)
}

// create adds users and returns them as stored.
func (d *cliDB) create(users ...store.User) []store.User {
	d.t.Helper()
	var out []store.User
	d.with(func(s *sqlite.Store) {
		for _, u := range users {
			if u.PasswordHash == "" {
				u.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
			}
			if u.DateJoined.IsZero() {
				u.DateJoined = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			}
			got, err := s.CreateUser(d.t.Context(), u)
			if err != nil {
				d.t.Fatalf("CreateUser(%s): %v", u.Email, err)
			}
			out = append(out, got)
		}
	})
	return out
}

func (d *cliDB) user(email string) store.User {
	d.t.Helper()
	var u store.User
	d.with(func(s *sqlite.Store) {
		var err error
		if u, err = s.UserByEmail(d.t.Context(), email); err != nil {
			d.t.Fatalf("UserByEmail(%s): %v", email, err)
		}
	})
	return u
}

// admin runs "server -db <db> admin args..." in-process.
func (d *cliDB) admin(args ...string) (string, error) {
	d.t.Helper()
	out, _, err := d.adminLog(args...)
	return out, err
}

// adminLog is admin that also returns what the command wrote to stderr.
func (d *cliDB) adminLog(args ...string) (stdout, stderr string, err error) {
	d.t.Helper()
	var o, e bytes.Buffer
	all := append([]string{"-db", d.path, "-key-file", filepath.Join(d.dir, "key"), "-redis", "", "-postgres", "", "-smtp", "", "admin"}, args...)
	err = run(d.t.Context(), all, &o, &e)
	return o.String(), e.String(), err
}

// seed creates the users most tests use.
func (d *cliDB) seed() {
	d.t.Helper()
	d.create(
		store.User{Email: "alice@example.com", IsActive: true, EmailVerified: true, IsStaff: true,
			LastLogin: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)},
		store.User{Email: "bob@example.com"},
		store.User{Email: "carol@example.com", IsActive: true, EmailVerified: true, TOTPEnabled: true,
			TOTPSecret: "t1:sealed", TOTPLastStep: 42, BackupCodes: []store.BackupCode{
				{ID: "a", Hash: "h1"}, {ID: "b", Hash: "h2", UsedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}, {ID: "c", Hash: "h3"},
			}},
	)
}

func TestAdminList(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	for _, tt := range []struct {
		args []string
		want []string // emails in order
	}{
		{nil, []string{"alice@example.com", "bob@example.com", "carol@example.com"}},
		{[]string{"B"}, []string{"bob@example.com"}},
		{[]string{"  CAROL@"}, []string{"carol@example.com"}},
		{[]string{"zed"}, nil},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := d.admin(append([]string{"list"}, tt.args...)...)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "EMAIL") {
				t.Fatalf("got header %q, want the column names", lines[0])
			}
			var got []string
			for _, l := range lines[1:] {
				got = append(got, strings.Fields(l)[1])
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %q, want %q\n%s", got, tt.want, out)
			}
		})
	}
	out, _ := d.admin("list", "alice")
	if f := strings.Fields(strings.Split(out, "\n")[1]); strings.Join(f[2:], " ") != "yes yes no yes 2026-02-03 04:05:06Z" {
		t.Errorf("got alice's row %q, want active, verified, no 2FA, staff, last login", f)
	}
}

// TestAdminListPages lists more users than one store page holds: each
// appears once.
func TestAdminListPages(t *testing.T) {
	d := newCLIDB(t)
	var users []store.User
	for i := range 2*listPage + 7 {
		users = append(users, store.User{Email: fmt.Sprintf("user%03d@example.com", i)})
	}
	d.create(users...)
	out, err := d.admin("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")[1:]
	if len(lines) != len(users) {
		t.Fatalf("got %d rows, want %d", len(lines), len(users))
	}
	for i, l := range lines {
		if got := strings.Fields(l)[1]; got != users[i].Email {
			t.Fatalf("row %d: got %s, want %s", i, got, users[i].Email)
		}
	}
}

func TestAdminShow(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	carol := d.user("carol@example.com")
	for _, name := range []string{"carol@example.com", " Carol@Example.COM ", carol.ID} {
		out, err := d.admin("show", name)
		if err != nil {
			t.Fatalf("show %q: got error %v", name, err)
		}
		for _, want := range []string{
			"id:                " + carol.ID,
			"email:             carol@example.com",
			"active:            yes",
			"email verified:    yes",
			"staff:             no",
			"2fa:               yes",
			"backup codes left: 2",
			"date joined:       2026-01-02 03:04:05Z",
			"last login:        never",
		} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("show %q: got\n%s\nwant a line %q", name, out, want)
			}
		}
		for _, secret := range []string{"t1:sealed", "h1", "$argon2id"} {
			if strings.Contains(out, secret) {
				t.Errorf("show %q printed the secret %q:\n%s", name, secret, out)
			}
		}
	}
}

func TestAdminActions(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	tests := []struct {
		cmd, email string
		check      func(before, after store.User) string
	}{
		{"disable-2fa", "carol@example.com", func(b, a store.User) string {
			if a.TOTPEnabled || a.TOTPSecret != "" || a.TOTPPendingSecret != "" || len(a.BackupCodes) != 0 || a.TOTPLastStep != b.TOTPLastStep {
				return fmt.Sprintf("2FA %t secret %q codes %d last step %d", a.TOTPEnabled, a.TOTPSecret, len(a.BackupCodes), a.TOTPLastStep)
			}
			return ""
		}},
		{"revoke", "alice@example.com", func(b, a store.User) string {
			if a.TokenVersion != b.TokenVersion+1 || !a.IsActive {
				return fmt.Sprintf("tv %d active %t", a.TokenVersion, a.IsActive)
			}
			return ""
		}},
		{"deactivate", "alice@example.com", func(b, a store.User) string {
			if a.IsActive || a.TokenVersion != b.TokenVersion+1 {
				return fmt.Sprintf("active %t tv %d", a.IsActive, a.TokenVersion)
			}
			return ""
		}},
		{"activate", "bob@example.com", func(b, a store.User) string {
			if !a.IsActive || !a.EmailVerified || a.TokenVersion != b.TokenVersion {
				return fmt.Sprintf("active %t verified %t tv %d", a.IsActive, a.EmailVerified, a.TokenVersion)
			}
			return ""
		}},
		{"staff", "bob@example.com", func(b, a store.User) string {
			if !a.IsStaff || b.IsStaff {
				return fmt.Sprintf("staff before %t after %t", b.IsStaff, a.IsStaff)
			}
			return ""
		}},
		{"unstaff", "bob@example.com", func(b, a store.User) string {
			if a.IsStaff || !b.IsStaff || a.IsActive != b.IsActive {
				return fmt.Sprintf("staff before %t after %t", b.IsStaff, a.IsStaff)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			before := d.user(tt.email)
			out, log, err := d.adminLog(tt.cmd, tt.email)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			want := "event=admin_action user_id=" + before.ID + " email=" + tt.email + " actor_id=cli"
			if !strings.Contains(log, want) || !strings.Contains(log, "reason="+adminActions[tt.cmd].action) {
				t.Errorf("got log %q, want an admin_action event (%q, reason=%s)", log, want, adminActions[tt.cmd].action)
			}
			if !strings.HasPrefix(out, tt.email+" (id "+before.ID+"): ") {
				t.Errorf("got output %q, want it to name %s and its id", out, tt.email)
			}
			if msg := tt.check(before, d.user(tt.email)); msg != "" {
				t.Errorf("after %s: got %s", tt.cmd, msg)
			}
		})
	}
	// Disabling 2FA that is off is an error and writes nothing.
	before := d.user("carol@example.com")
	if _, err := d.admin("disable-2fa", before.ID); err == nil || !strings.Contains(err.Error(), "not enabled") {
		t.Errorf("disable-2fa twice: got error %v, want not enabled", err)
	}
	if after := d.user("carol@example.com"); after.TokenVersion != before.TokenVersion {
		t.Errorf("a refused disable-2fa changed the user")
	}
}

func TestAdminErrors(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage:"},
		{[]string{"frobnicate", "alice@example.com"}, `unknown admin command "frobnicate"`},
		{[]string{"show"}, "usage:"},
		{[]string{"show", ""}, "usage:"},
		{[]string{"revoke", "a@example.com", "b@example.com"}, "usage:"},
		{[]string{"list", "a", "b"}, "usage:"},
		{[]string{"show", "nobody@example.com"}, "nobody@example.com: no such user"},
		{[]string{"deactivate", "no-such-id"}, "no-such-id: no such user"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := d.admin(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("got output %q on an error, want none", out)
			}
		})
	}
	out, err := d.admin("help")
	if err != nil || !strings.Contains(out, "disable-2fa <email|id>") {
		t.Fatalf("help: got %q, %v; want the usage and no error", out, err)
	}
}

// TestAdminNeedsOnlyTheUserStore runs an admin command with Redis and SMTP
// configured at closed ports: the command uses the user store alone, so it
// works while the other services are down.
func TestAdminNeedsOnlyTheUserStore(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	var o, e bytes.Buffer
	args := []string{"-db", d.path, "-key-file", filepath.Join(d.dir, "key"), "-postgres", "",
		"-redis", "redis://127.0.0.1:1/0", "-smtp", "smtp://127.0.0.1:1", "admin", "list"}
	if err := run(t.Context(), args, &o, &e); err != nil {
		t.Fatalf("admin list with Redis and SMTP down: %v (stderr %q)", err, e.String())
	}
	if !strings.Contains(o.String(), "alice@example.com") {
		t.Errorf("got %q, want the users listed", o.String())
	}
}

// TestAdminSessions lists a user's live sessions and revokes one.
func TestAdminSessions(t *testing.T) {
	d := newCLIDB(t)
	d.seed()
	alice := d.user("alice@example.com")
	now := time.Now()
	d.with(func(s *sqlite.Store) {
		for _, id := range []string{"sess-laptop", "sess-phone"} {
			err := s.CreateSession(t.Context(), store.Session{
				ID: id, UserID: alice.ID, CreatedAt: now, LastUsedAt: now,
				IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour),
				Label: "Firefox on Linux", LastIP: "192.0.2.7", RefreshID: "r-" + id,
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	out, err := d.admin("sessions", "alice@example.com")
	if err != nil || !strings.Contains(out, "sess-laptop") || !strings.Contains(out, "sess-phone") || !strings.Contains(out, "Firefox on Linux") {
		t.Fatalf("sessions: got %q, %v; want both sessions listed", out, err)
	}
	out, log, err := d.adminLog("revoke-session", "alice@example.com", "sess-phone")
	if err != nil || !strings.Contains(out, "session sess-phone revoked") {
		t.Fatalf("revoke-session: got %q, %v", out, err)
	}
	if !strings.Contains(log, "event=session_revoked user_id="+alice.ID+" actor_id=cli") {
		t.Errorf("got log %q, want a session_revoked event by the operator", log)
	}
	out, _ = d.admin("sessions", alice.ID)
	if strings.Contains(out, "sess-phone") || !strings.Contains(out, "sess-laptop") {
		t.Errorf("after the revoke: got %q, want only sess-laptop", out)
	}
	if _, err := d.admin("revoke-session", "alice@example.com", "sess-phone"); err == nil || !strings.Contains(err.Error(), "no such live session") {
		t.Errorf("revoking it again: got %v, want no such live session", err)
	}
	if _, err := d.admin("revoke-session", "bob@example.com", "sess-laptop"); err == nil {
		t.Error("revoking alice's session as bob's: got nil, want an error")
	}
	if _, err := d.admin("revoke-session", "alice@example.com"); err == nil || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("revoke-session without an id: got %v, want the usage", err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
)

const adminUsage = `usage: server [flags] admin <command> [args]
  list [email-prefix]       list users ordered by email (all of them, or those whose email starts with the prefix)
  show <email|id>           one user's details
  disable-2fa <email|id>    turn off a user's 2FA and erase their secret and backup codes
  revoke <email|id>         log a user out everywhere (bump the token version)
  activate <email|id>       activate an account and mark its email verified
  deactivate <email|id>     deactivate an account and log it out everywhere
  sessions <email|id>       list a user's live sessions (logins), newest first
  revoke-session <email|id> <session-id>
                            log one session of a user out
  staff <email|id>          make a user staff, allowed to use the admin API
  unstaff <email|id>        take staff rights away (effective at the next request)
  help                      print this help
A user is named by email when the argument contains "@", by id otherwise.`

// errUsage wraps the usage text, for a command line the admin tool does not
// understand.
var errUsage = errors.New(adminUsage)

// adminActions maps the commands that change a user to the admin API's
// actions, carried out by Auth.AdminAction, or to the CLI's own.
var adminActions = map[string]struct{ action, done string }{
	"disable-2fa": {authsys.AdminDisable2FA, "two-factor authentication disabled"},
	"revoke":      {authsys.AdminRevokeSessions, "every session revoked"},
	"activate":    {authsys.AdminActivate, "account activated"},
	"deactivate":  {authsys.AdminDeactivate, "account deactivated and every session revoked"},
	"staff":       {actionStaff, "now staff"},
	"unstaff":     {actionUnstaff, "no longer staff"},
}

// The CLI's own actions: the admin API cannot grant admin rights, so the
// first admin is made here, by whoever can reach the database.
const (
	actionStaff   = "grant_staff"
	actionUnstaff = "revoke_staff"
)

// applyCLIAction carries out action on the user id: the admin API's
// actions through Auth.AdminAction, which logs an admin_action security
// event whose actor is the operator, and the CLI's own on the store, logged
// alike here.
func applyCLIAction(ctx context.Context, auth *authsys.Auth, users authsys.UserStore, log *slog.Logger, id, action string) (authsys.User, error) {
	staff := action == actionStaff
	if !staff && action != actionUnstaff {
		return auth.AdminAction(ctx, cliActor(), id, action)
	}
	u, err := users.UpdateUser(ctx, id, func(x *authsys.User) error {
		x.IsStaff = staff
		return nil
	})
	if err == nil {
		log.LogAttrs(ctx, slog.LevelInfo, "authsys: security event",
			slog.String("event", authsys.EventAdminAction), slog.String("user_id", u.ID), slog.String("email", u.Email),
			slog.String("actor_id", cliActor()), slog.String("reason", action))
	}
	return u, err
}

// cliActor names the operator of an admin command in its event.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// listPage is how many users list reads from the store at once.
const listPage = 100

// runAdmin carries out an operator command. The admin API's actions go
// through auth, which logs each as an admin_action security event.
func runAdmin(ctx context.Context, auth *authsys.Auth, users authsys.UserStore, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprintln(out, adminUsage)
		return err
	case "list":
		if len(args) > 1 {
			return errUsage
		}
		prefix := ""
		if len(args) == 1 {
			prefix = args[0]
		}
		return listUsers(ctx, users, prefix, out)
	case "revoke-session":
		if len(args) != 2 || strings.TrimSpace(args[0]) == "" || strings.TrimSpace(args[1]) == "" {
			return errUsage
		}
		u, err := lookupUser(ctx, users, args[0])
		if err != nil {
			return err
		}
		if err := auth.RevokeSession(ctx, cliActor(), u.ID, strings.TrimSpace(args[1])); err != nil {
			if errors.Is(err, authsys.ErrNotFound) {
				return fmt.Errorf("%s: no such live session of %s", args[1], u.Email)
			}
			return err
		}
		_, err = fmt.Fprintf(out, "%s (id %s): session %s revoked\n", u.Email, u.ID, strings.TrimSpace(args[1]))
		return err
	}
	if _, ok := adminActions[cmd]; !ok && cmd != "show" && cmd != "sessions" {
		return fmt.Errorf("unknown admin command %q\n%w", cmd, errUsage)
	}
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return errUsage
	}
	u, err := lookupUser(ctx, users, args[0])
	if err != nil {
		return err
	}
	switch cmd {
	case "show":
		return showUser(u, out)
	case "sessions":
		return listSessions(ctx, auth, u, out)
	}
	a := adminActions[cmd]
	updated, err := applyCLIAction(ctx, auth, users, log, u.ID, a.action)
	switch {
	case errors.Is(err, authsys.ErrTwoFactorNotEnabled):
		return fmt.Errorf("%s: two-factor authentication is not enabled", u.Email)
	case errors.Is(err, authsys.ErrNotFound):
		return fmt.Errorf("%s: no such user", args[0])
	case err != nil:
		return err
	}
	_, err = fmt.Fprintf(out, "%s (id %s): %s\n", updated.Email, updated.ID, a.done)
	return err
}

// lookupUser finds the user named by email or id.
func lookupUser(ctx context.Context, users authsys.UserStore, name string) (authsys.User, error) {
	var u authsys.User
	var err error
	if strings.Contains(name, "@") {
		u, err = users.UserByEmail(ctx, store.NormalizeEmail(name))
	} else {
		u, err = users.UserByID(ctx, strings.TrimSpace(name))
	}
	if errors.Is(err, authsys.ErrNotFound) {
		return u, fmt.Errorf("%s: no such user", name)
	}
	if err != nil {
		return u, fmt.Errorf("%s: %w", name, err)
	}
	return u, nil
}

// listUsers prints every user whose email starts with prefix, reading the
// store one page at a time.
func listUsers(ctx context.Context, users authsys.UserStore, prefix string, out io.Writer) error {
	lister, ok := users.(store.UserLister)
	if !ok {
		return errors.New("this user store cannot list users (it does not implement store.UserLister)")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tACTIVE\tVERIFIED\t2FA\tSTAFF\tLAST LOGIN")
	prefix = store.NormalizeEmail(prefix)
	after := ""
	for {
		page, err := lister.ListUsers(ctx, prefix, after, listPage)
		if err != nil {
			return err
		}
		for _, u := range page {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email,
				yesNo(u.IsActive), yesNo(u.EmailVerified), yesNo(u.TOTPEnabled), yesNo(u.IsStaff), when(u.LastLogin))
		}
		if len(page) < listPage {
			break
		}
		after = page[len(page)-1].Email
	}
	return tw.Flush()
}

func showUser(u authsys.User, out io.Writer) error {
	remaining := 0
	for _, c := range u.BackupCodes {
		if c.UsedAt.IsZero() {
			remaining++
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	for _, row := range [][2]string{
		{"id", u.ID},
		{"email", u.Email},
		{"active", yesNo(u.IsActive)},
		{"email verified", yesNo(u.EmailVerified)},
		{"disabled", yesNo(u.Disabled)},
		{"staff", yesNo(u.IsStaff)},
		{"2fa", yesNo(u.TOTPEnabled)},
		{"backup codes left", fmt.Sprint(remaining)},
		{"date joined", when(u.DateJoined)},
		{"last login", when(u.LastLogin)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// when formats t in UTC, "never" when zero.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// listSessions prints the live sessions of u.
func listSessions(ctx context.Context, auth *authsys.Auth, u authsys.User, out io.Writer) error {
	ss, err := auth.UserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tDEVICE\tIP\tCREATED\tLAST USED")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Label, s.LastIP, when(s.CreatedAt), when(s.LastUsedAt))
	}
	return tw.Flush()
}

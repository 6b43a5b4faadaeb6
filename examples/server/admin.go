package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
)

const adminUsage = `usage: server [flags] admin <command> [args]
  list [email-prefix]      list users (up to 100)
  show <email>             one user's details
  disable-2fa <email>      turn off a user's 2FA and erase their codes
  revoke <email>           log a user out everywhere (bump the token version)
  activate <email>         activate (and mark verified) an account
  deactivate <email>       deactivate an account`

// runAdmin carries out an operator command directly on the user store.
func runAdmin(ctx context.Context, users authsys.UserStore, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	cmd, args := args[0], args[1:]
	if cmd == "list" {
		lister, ok := users.(store.UserLister)
		if !ok {
			return errors.New("this user store cannot list users")
		}
		prefix := ""
		if len(args) > 0 {
			prefix = args[0]
		}
		list, err := lister.ListUsers(ctx, store.NormalizeEmail(prefix), "", 100)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tACTIVE\tVERIFIED\t2FA\tSTAFF")
		for _, u := range list {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%t\t%t\n", u.ID, u.Email, u.IsActive, u.EmailVerified, u.TOTPEnabled, u.IsStaff)
		}
		return tw.Flush()
	}
	if len(args) != 1 {
		return errors.New(adminUsage)
	}
	u, err := users.UserByEmail(ctx, store.NormalizeEmail(args[0]))
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	var change func(*store.User)
	switch cmd {
	case "show":
		remaining := 0
		for _, c := range u.BackupCodes {
			if c.UsedAt.IsZero() {
				remaining++
			}
		}
		fmt.Fprintf(out, "id: %s\nemail: %s\nactive: %t\nverified: %t\nstaff: %t\n2fa: %t\nbackup codes left: %d\njoined: %s\nlast login: %s\n",
			u.ID, u.Email, u.IsActive, u.EmailVerified, u.IsStaff, u.TOTPEnabled, remaining,
			u.DateJoined.UTC().Format("2006-01-02 15:04:05Z"), lastLogin(u))
		return nil
	case "disable-2fa":
		change = func(x *store.User) {
			x.TOTPEnabled, x.TOTPSecret, x.TOTPPendingSecret, x.BackupCodes = false, "", "", nil
		}
	case "revoke":
		change = func(x *store.User) { x.TokenVersion++ }
	case "activate":
		change = func(x *store.User) { x.IsActive, x.EmailVerified = true, true }
	case "deactivate":
		change = func(x *store.User) { x.IsActive = false; x.TokenVersion++ }
	default:
		return errors.New(adminUsage)
	}
	if _, err := users.UpdateUser(ctx, u.ID, func(x *store.User) error { change(x); return nil }); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s done\n", u.Email, cmd)
	return nil
}

func lastLogin(u store.User) string {
	if u.LastLogin.IsZero() {
		return "never"
	}
	return u.LastLogin.UTC().Format("2006-01-02 15:04:05Z")
}

package handlers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/store"
)

// Admin actions: the state-changing operations of the admin API and of
// ApplyAdminAction, and the Reason of their EventAdminAction events.
const (
	// AdminDisable2FA turns two-factor authentication off and erases the
	// secret and the backup codes, for a user who lost their device.
	AdminDisable2FA = "disable_2fa"
	// AdminRevokeSessions bumps the token version: every access and
	// refresh token and every pending 2FA login of the user dies.
	AdminRevokeSessions = "revoke_sessions"
	// AdminActivate makes the account active and its email verified.
	AdminActivate = "activate"
	// AdminDeactivate makes the account inactive and revokes its sessions.
	AdminDeactivate = "deactivate"
	// AdminResendVerification mails a new verification link (admin API
	// only: it needs the Auth's keys and mailer).
	AdminResendVerification = "resend_verification"
)

// Errors of ApplyAdminAction, besides the store's.
var (
	// ErrTwoFactorNotEnabled is returned by AdminDisable2FA for a user
	// without two-factor authentication; nothing is written.
	ErrTwoFactorNotEnabled = errors.New("handlers: two-factor authentication is not enabled")
	// ErrUnknownAdminAction is returned for an action ApplyAdminAction does
	// not know.
	ErrUnknownAdminAction = errors.New("handlers: unknown admin action")
)

// ApplyAdminAction carries out one of AdminDisable2FA, AdminRevokeSessions,
// AdminActivate and AdminDeactivate on the user id with a single atomic
// UpdateUser, and returns the user as stored. It is what the admin API
// does, offered to operator tools that work on the store directly (such as
// a command-line tool); it emits no event. It returns store.ErrNotFound
// (wrapped or not, as the store does) for an unknown id,
// ErrTwoFactorNotEnabled, or ErrUnknownAdminAction. It is safe for
// concurrent use.
func ApplyAdminAction(ctx context.Context, users store.UserStore, id, action string) (store.User, error) {
	var change func(*store.User) error
	switch action {
	case AdminDisable2FA:
		change = func(x *store.User) error {
			if !x.TOTPEnabled {
				return ErrTwoFactorNotEnabled
			}
			clearTwoFactor(x)
			return nil
		}
	case AdminRevokeSessions:
		change = func(x *store.User) error { x.TokenVersion++; return nil }
	case AdminActivate:
		change = func(x *store.User) error { x.IsActive, x.EmailVerified, x.Disabled = true, true, false; return nil }
	case AdminDeactivate:
		// Disabled keeps email verification from undoing it.
		change = func(x *store.User) error { x.IsActive, x.Disabled = false, true; x.TokenVersion++; return nil }
	default:
		return store.User{}, fmt.Errorf("%w %q", ErrUnknownAdminAction, action)
	}
	return users.UpdateUser(ctx, id, change)
}

// Admin list paging.
const (
	// DefaultAdminPageSize is the page size of GET /users/ without limit.
	DefaultAdminPageSize = 50
	// MaxAdminPageSize is the largest limit GET /users/ accepts.
	MaxAdminPageSize = 100
)

// adminUserJSON is the admin view of a user: never a hash, secret or code.
type adminUserJSON struct {
	ID                   string     `json:"id"`
	Email                string     `json:"email"`
	IsActive             bool       `json:"is_active"`
	EmailVerified        bool       `json:"email_verified"`
	Disabled             bool       `json:"disabled"`
	IsStaff              bool       `json:"is_staff"`
	TwoFactorEnabled     bool       `json:"two_factor_enabled"`
	BackupCodesRemaining int        `json:"backup_codes_remaining"`
	DateJoined           time.Time  `json:"date_joined"`
	LastLogin            *time.Time `json:"last_login"`
}

func adminUser(u store.User) adminUserJSON {
	out := adminUserJSON{
		ID: u.ID, Email: u.Email, IsActive: u.IsActive, EmailVerified: u.EmailVerified, Disabled: u.Disabled,
		IsStaff: u.IsStaff, TwoFactorEnabled: u.TOTPEnabled, DateJoined: u.DateJoined.UTC(),
	}
	for _, c := range u.BackupCodes {
		if c.UsedAt.IsZero() {
			out.BackupCodesRemaining++
		}
	}
	if !u.LastLogin.IsZero() {
		t := u.LastLogin.UTC()
		out.LastLogin = &t
	}
	return out
}

type adminUserResponse struct {
	User adminUserJSON `json:"user"`
}

type adminUserList struct {
	Users []adminUserJSON `json:"users"`
	// NextCursor fetches the next page; null on the last one.
	NextCursor *string `json:"next_cursor"`
}

// isAdmin applies Deps.IsAdmin, User.IsStaff when it is nil.
func (h *Handlers) isAdmin(u store.User) bool {
	if h.deps.IsAdmin == nil {
		return u.IsStaff
	}
	return h.deps.IsAdmin(u)
}

// adminOnly wraps an admin endpoint: 401 without a valid access token, 403
// forbidden for a user who is not an admin. The user is loaded afresh on
// every request, so a demotion takes effect at once.
func (h *Handlers) adminOnly(fn func(w http.ResponseWriter, r *http.Request, admin store.User) error) handlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, u store.User) error {
		if !h.isAdmin(u) {
			h.emit(r, Event{Kind: EventAdminDenied, UserID: u.ID, Reason: "not_admin"})
			return problem(http.StatusForbidden, CodeForbidden, "You do not have permission to use the admin API.")
		}
		return fn(w, r, u)
	})
}

var errNoSuchUser = problem(http.StatusNotFound, CodeNotFound, "No such user.")

// targetID returns the {id} of the path, or errNoSuchUser for one no store
// could hold.
func targetID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || !plausibleID(id) {
		return "", errNoSuchUser
	}
	return id, nil
}

// adminStoreErr maps a store error on the target user to its problem.
func adminStoreErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNoSuchUser
	case errors.Is(err, ErrTwoFactorNotEnabled):
		return errNotEnabled
	}
	return err
}

// encodeCursor and decodeCursor make the opaque paging cursor: the last
// email of a page, versioned and base64url-encoded.
func encodeCursor(email string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("e1:" + email))
}

func decodeCursor(c string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	email, ok := strings.CutPrefix(string(raw), "e1:")
	return email, ok && email != "" && len(email) <= 254
}

// listUsers serves GET /users/?q=<email prefix>&cursor=&limit=.
func (h *Handlers) listUsers(w http.ResponseWriter, r *http.Request, _ store.User) error {
	lister, ok := h.deps.Users.(store.UserLister)
	if !ok {
		return problem(http.StatusNotImplemented, CodeNotImplemented,
			"The user store cannot list users: it does not implement store.UserLister.")
	}
	q := r.URL.Query()
	f := fields{}
	prefix := store.NormalizeEmail(q.Get("q"))
	if len(prefix) > 254 {
		f.add("q", "Enter at most 254 characters.")
	}
	limit := DefaultAdminPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAdminPageSize {
			f.add("limit", fmt.Sprintf("Enter a whole number from 1 to %d.", MaxAdminPageSize))
		}
		limit = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		var ok bool
		if after, ok = decodeCursor(c); !ok {
			f.add("cursor", "The cursor is invalid; use the next_cursor of a previous page.")
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	// One more than a page tells whether a next page exists.
	users, err := lister.ListUsers(r.Context(), prefix, after, limit+1)
	if err != nil {
		return err
	}
	out := adminUserList{Users: make([]adminUserJSON, 0, min(len(users), limit))}
	for i, u := range users {
		if i == limit {
			next := encodeCursor(users[limit-1].Email)
			out.NextCursor = &next
			break
		}
		out.Users = append(out.Users, adminUser(u))
	}
	return writeJSON(w, http.StatusOK, out)
}

// showUser serves GET /users/{id}/.
func (h *Handlers) showUser(w http.ResponseWriter, r *http.Request, _ store.User) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	u, err := h.deps.Users.UserByID(r.Context(), id)
	if err != nil {
		return adminStoreErr(err)
	}
	return writeJSON(w, http.StatusOK, adminUserResponse{adminUser(u)})
}

// adminAction returns the endpoint POST /users/{id}/<action>/.
func (h *Handlers) adminAction(action string) handlerFunc {
	return h.adminOnly(func(w http.ResponseWriter, r *http.Request, admin store.User) error {
		if err := decodeOptional(w, r, &struct{}{}); err != nil {
			return err
		}
		id, err := targetID(r)
		if err != nil {
			return err
		}
		var u store.User
		switch action {
		case AdminResendVerification:
			u, err = h.deps.Users.UserByID(r.Context(), id)
			if err != nil {
				return adminStoreErr(err)
			}
			if u.EmailVerified {
				return problem(http.StatusConflict, CodeAlreadyVerified, "The email address is already verified.")
			}
			if u.Disabled {
				return problem(http.StatusConflict, CodeConflict, "The account is deactivated; activate it instead.")
			}
			h.sendVerification(r, u)
		case AdminDeactivate:
			if id == admin.ID {
				return problem(http.StatusConflict, CodeConflict, "You cannot deactivate your own account.")
			}
			fallthrough
		default:
			u, err = ApplyAdminAction(r.Context(), h.deps.Users, id, action)
			if err != nil {
				return adminStoreErr(err)
			}
		}
		h.emit(r, Event{Kind: EventAdminAction, UserID: u.ID, ActorID: admin.ID, Reason: action})
		return writeJSON(w, http.StatusOK, adminUserResponse{adminUser(u)})
	})
}

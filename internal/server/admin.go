package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authsys-go/authsys/internal/session"
	authmail "github.com/authsys-go/authsys/mail"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/store"
)

// Errors of AdminAction, besides the store's.
var (
	// ErrTwoFactorNotEnabled is returned by AdminAction(AdminDisable2FA)
	// for a user without two-factor authentication; nothing is written.
	ErrTwoFactorNotEnabled = errors.New("authsys: two-factor authentication is not enabled")
	// ErrUnknownAdminAction is returned for an action AdminAction does not
	// know.
	ErrUnknownAdminAction = errors.New("authsys: unknown admin action")
	// ErrAlreadyVerified is returned by AdminAction(AdminResendVerification)
	// for an account whose email is verified.
	ErrAlreadyVerified = errors.New("authsys: the email address is already verified")
	// ErrDeactivated is returned by AdminAction(AdminResendVerification)
	// for a deactivated account.
	ErrDeactivated = errors.New("authsys: the account is deactivated")
)

// AdminAction carries out one of the admin actions on the user id, as the
// admin API does, emits EventAdminAction with actorID (empty for an
// operator tool) and returns the user as stored. State changes are one
// atomic UpdateUser; AdminResendVerification reads the user and mails in
// the background (Shutdown waits for it). r, when not nil, is the request
// whose client the event names. It returns store.ErrNotFound for an
// unknown id, ErrTwoFactorNotEnabled, ErrAlreadyVerified, ErrDeactivated,
// ErrUnknownAdminAction, or the store's error.
func (h *Handlers) AdminAction(ctx context.Context, r *http.Request, actorID, id, action string) (store.User, error) {
	if r == nil {
		var err error
		if r, err = http.NewRequestWithContext(ctx, http.MethodPost, "/", nil); err != nil {
			return store.User{}, err
		}
	}
	var change func(*store.User) error
	switch action {
	case handlers.AdminResendVerification:
		u, err := h.deps.Users.UserByID(ctx, id)
		switch {
		case err != nil:
			return store.User{}, err
		case u.EmailVerified:
			return store.User{}, ErrAlreadyVerified
		case u.Disabled:
			return store.User{}, ErrDeactivated
		}
		h.sendVerification(r, u)
		h.emit(r, Event{Kind: handlers.EventAdminAction, UserID: u.ID, Email: u.Email, ActorID: actorID, Reason: action})
		return u, nil
	case handlers.AdminDisable2FA:
		// The recovery of an account whose owner lost their second
		// factors: TOTP and every passkey go, the passkeys before the
		// token version moves (as at a password reset) and again after.
		cur, err := h.deps.Users.UserByID(ctx, id)
		if err != nil {
			return store.User{}, err
		}
		removed, err := h.removePasskeys(r, cur, actorID, "admin_disable_2fa")
		if err != nil {
			return store.User{}, err
		}
		hasPasskeys := removed > 0
		change = func(x *store.User) error {
			if !x.TOTPEnabled && !hasPasskeys {
				return ErrTwoFactorNotEnabled
			}
			clearTwoFactor(x)
			x.TokenVersion++ // as when the user disables it: every session ends
			return nil
		}
	case handlers.AdminRevokeSessions:
		change = func(x *store.User) error { x.TokenVersion++; return nil }
	case handlers.AdminActivate:
		change = func(x *store.User) error { x.IsActive, x.EmailVerified, x.Disabled = true, true, false; return nil }
	case handlers.AdminDeactivate:
		// Disabled keeps email verification from undoing it.
		change = func(x *store.User) error { x.IsActive, x.Disabled = false, true; x.TokenVersion++; return nil }
	default:
		return store.User{}, fmt.Errorf("%w %q", ErrUnknownAdminAction, action)
	}
	u, err := h.sess.UpdateUser(ctx, id, change)
	if err != nil {
		return store.User{}, err
	}
	if action == handlers.AdminRevokeSessions || action == handlers.AdminDeactivate || action == handlers.AdminDisable2FA {
		h.endSessions(r, u.ID, "", session.ReasonRevoked)
	}
	if action == handlers.AdminDisable2FA {
		h.removePasskeysAgain(r, u, actorID, "admin_disable_2fa")
		// The notice names no device: the request was the admin's.
		if anon, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil); err == nil {
			h.notify(anon, u, authmail.KindTwoFactorDisabled, authmail.Data{})
		}
	}
	h.emit(r, Event{Kind: handlers.EventAdminAction, UserID: u.ID, Email: u.Email, ActorID: actorID, Reason: action})
	return u, nil
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
	if h.deps.Hooks.IsAdmin == nil {
		return u.IsStaff
	}
	return h.deps.Hooks.IsAdmin(h.publicUser(u))
}

// adminOnly wraps an admin endpoint: 401 without a valid access token, 403
// forbidden for a user who is not an admin. The user is loaded afresh on
// every request, so a demotion takes effect at once.
func (h *Handlers) adminOnly(fn func(w http.ResponseWriter, r *http.Request, admin store.User) error) handlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, u store.User) error {
		if !h.isAdmin(u) {
			h.emit(r, Event{Kind: handlers.EventAdminDenied, UserID: u.ID, Reason: "not_admin"})
			return problem(http.StatusForbidden, handlers.CodeForbidden, "admin.forbidden")
		}
		return fn(w, r, u)
	})
}

// adminFresh is adminOnly for the admin API's actions, which also need a
// fresh session (see fresh): an admin's stolen session is not enough.
func (h *Handlers) adminFresh(fn func(w http.ResponseWriter, r *http.Request, admin store.User) error) handlerFunc {
	return h.adminOnly(func(w http.ResponseWriter, r *http.Request, admin store.User) error {
		if !h.sess.Fresh(claimsFromContext(r.Context()), h.deps.Sessions.ReauthWindow) {
			return errReauthRequired
		}
		return fn(w, r, admin)
	})
}

var errNoSuchUser = problem(http.StatusNotFound, handlers.CodeNotFound, "admin.no_such_user")

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
	case errors.Is(err, ErrAlreadyVerified):
		return problem(http.StatusConflict, handlers.CodeAlreadyVerified, "admin.already_verified")
	case errors.Is(err, ErrDeactivated):
		return problem(http.StatusConflict, handlers.CodeConflict, "admin.deactivated")
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
		return problem(http.StatusNotImplemented, handlers.CodeNotImplemented,
			"admin.cannot_list")
	}
	q := r.URL.Query()
	f := fields{}
	prefix := store.NormalizeEmail(q.Get("q"))
	if len(prefix) > 254 {
		f.add("q", fieldTooLong)
	}
	limit := DefaultAdminPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAdminPageSize {
			f.add("limit", fieldOutOfRange)
		}
		limit = n
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		var ok bool
		if after, ok = decodeCursor(c); !ok {
			f.add("cursor", fieldInvalidCursor)
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
	return h.adminFresh(func(w http.ResponseWriter, r *http.Request, admin store.User) error {
		if err := decodeOptional(w, r, &struct{}{}); err != nil {
			return err
		}
		id, err := targetID(r)
		if err != nil {
			return err
		}
		if action == handlers.AdminDeactivate && id == admin.ID {
			return problem(http.StatusConflict, handlers.CodeConflict, "admin.deactivate_self")
		}
		// An admin's own 2FA goes off only as anyone's does, with the
		// password and a code (/2fa/disable/): the admin API would take
		// neither, and a stolen admin session could drop its own second
		// factor.
		if action == handlers.AdminDisable2FA && id == admin.ID {
			return problem(http.StatusConflict, handlers.CodeConflict, "admin.disable_own_2fa")
		}
		u, err := h.AdminAction(r.Context(), r, admin.ID, id, action)
		if err != nil {
			return adminStoreErr(err)
		}
		return writeJSON(w, http.StatusOK, adminUserResponse{adminUser(u)})
	})
}

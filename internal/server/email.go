package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/authsys-go/authsys/internal/session"

	"github.com/authsys-go/authsys/handlers"

	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
)

type changeEmail struct {
	NewEmail string `json:"new_email"`
	Password string `json:"password"`
}

// pendingEmail is what the PendingStore keeps for a requested email change;
// the link carries only a random token whose hash is the key.
type pendingEmail struct {
	UserID       string `json:"uid"`
	NewEmail     string `json:"new_email"`
	TokenVersion int64  `json:"tv"`
	OldEmail     string `json:"old_email"`
}

func (h *Handlers) changeEmail(w http.ResponseWriter, r *http.Request, u store.User) error {
	var in changeEmail
	if err := decode(w, r, &in); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.NewEmail)
	f := fields{}
	if f.required("new_email", in.NewEmail) {
		switch {
		case !validEmail(email):
			f.add("new_email", fieldInvalidEmail)
		case email == u.Email:
			f.add("new_email", fieldSameEmail)
		}
	}
	f.required("password", in.Password)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.verifyOwnPassword(r, u, "password", in.Password); err != nil {
		return err
	}
	// A taken address gets the same answer and no mail to it: the change
	// could never be confirmed, and the answer must not reveal who has an
	// account. Either way a newer request kills the links of older ones,
	// and the current address hears of it, with a way to stop it.
	_, err := h.deps.Users.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := h.cancelEmailChange(r, u.ID); err != nil {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		token := tokens.NewID() + tokens.NewID()
		key := h.keys.EmailChange(token)
		rec, _ := json.Marshal(pendingEmail{UserID: u.ID, NewEmail: email, TokenVersion: u.TokenVersion, OldEmail: u.Email})
		if err := h.deps.Pending.PutPending(r.Context(), key, rec, h.deps.Links.EmailChangeTTL); err != nil {
			return err
		}
		if err := h.deps.Pending.PutPending(r.Context(), h.keys.EmailChangeOf(u.ID), []byte(key), h.deps.Links.EmailChangeTTL); err != nil {
			return err
		}
		link := h.link(h.deps.Links.EmailChangePath, url.Values{"token": {token}})
		h.sendMail(r, authmail.KindEmailChangeConfirm, email, u, h.deps.Links.EmailChangeTTL, authmail.Data{Email: u.Email, NewEmail: email, Link: link})
	}
	// The current address is told now, with a password reset link: a reset
	// ends every session and kills the change (its token version moves).
	h.notify(r, u, authmail.KindEmailChangeRequested, authmail.Data{NewEmail: email})
	h.emit(r, Event{Kind: handlers.EventEmailChangeRequested, UserID: u.ID})
	return h.writeMessage(w, r, "email.change_requested")
}

// cancelEmailChange kills the pending email change of userID, if any: its
// link answers invalid_token from now on.
func (h *Handlers) cancelEmailChange(r *http.Request, userID string) error {
	key, err := h.deps.Pending.TakePending(r.Context(), h.keys.EmailChangeOf(userID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return h.deps.Pending.DeletePending(r.Context(), string(key))
}

// cancelEmailChangeRequest serves DELETE /change-email/.
func (h *Handlers) cancelEmailChangeRequest(w http.ResponseWriter, r *http.Request, u store.User) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := h.cancelEmailChange(r, u.ID); err != nil {
		return err
	}
	return h.writeMessage(w, r, "email.change_cancelled")
}

type tokenOnly struct {
	Token string `json:"token"`
}

func (h *Handlers) changeEmailConfirm(w http.ResponseWriter, r *http.Request) error {
	var in tokenOnly
	if r.Method == http.MethodGet {
		in.Token = r.URL.Query().Get("token")
	} else if err := decode(w, r, &in); err != nil {
		return err
	}
	f := fields{}
	f.required("token", in.Token)
	if err := f.err(); err != nil {
		return err
	}
	ctx := r.Context()
	key := h.keys.EmailChange(in.Token)
	raw, err := h.deps.Pending.GetPending(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidLink
	}
	if err != nil {
		return err
	}
	var rec pendingEmail
	if err := json.Unmarshal(raw, &rec); err != nil {
		return errInvalidLink
	}
	// Only the newest request of the account counts, and this confirmation
	// claims it atomically: a newer request either came first (and this
	// link is dead) or finds nothing to cancel and comes after (its record
	// names the address this confirmation changes, so it dies).
	pointer := h.keys.EmailChangeOf(rec.UserID)
	cur, err := h.deps.Pending.GetPending(ctx, pointer)
	if err != nil || string(cur) != key {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return errInvalidLink
	}
	claimed, err := h.deps.Pending.TakePending(ctx, pointer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errInvalidLink
	case err != nil:
		return err
	case string(claimed) != key:
		// A newer request slipped in between: give its pointer back,
		// unless a still newer one has set its own meanwhile.
		_, _ = h.deps.Pending.AddPendingIfAbsent(context.WithoutCancel(ctx), pointer, claimed, h.deps.Links.EmailChangeTTL)
		return errInvalidLink
	}
	// The token version check inside the update makes the link single use
	// (the change bumps it) and kills it when the password changed since.
	u, err := h.sess.UpdateUser(ctx, rec.UserID, func(x *store.User) error {
		if x.TokenVersion != rec.TokenVersion || x.Email != rec.OldEmail || !x.IsActive {
			return errInvalidLink
		}
		x.Email = rec.NewEmail
		x.EmailVerified = true
		x.TokenVersion++
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errInvalidLink
	case errors.Is(err, store.ErrEmailTaken):
		_ = h.deps.Pending.DeletePending(ctx, key)
		return problem(http.StatusConflict, handlers.CodeEmailTaken, "email.taken")
	case errors.Is(err, errInvalidLink):
		return err
	case err != nil:
		// The write may not have happened (an outage): give the claim
		// back, unless a newer request took its place meanwhile, so that
		// the link can be retried. Had it happened, the retry finds the
		// address changed and the link dead.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.workTimeout())
		defer cancel()
		_, _ = h.deps.Pending.AddPendingIfAbsent(rctx, pointer, []byte(key), h.deps.Links.EmailChangeTTL)
		return err
	}
	if err := h.deps.Pending.DeletePending(ctx, key); err != nil {
		h.log.WarnContext(ctx, "authsys: deleting a used email-change record failed", "error", err)
	}
	h.endSessions(r, u.ID, "", session.ReasonAccount)
	h.clearCookies(w, r)
	if !slices.Contains(h.deps.Mail.SkipNotices, authmail.KindEmailChangedNotice) {
		// The old address sees the new one masked only, User included.
		old := u
		old.Email = rec.OldEmail
		h.sendMail(r, authmail.KindEmailChangedNotice, rec.OldEmail, old, 0, authmail.Data{Email: rec.OldEmail, NewEmail: authmail.MaskEmail(rec.NewEmail)})
	}
	h.emit(r, Event{Kind: handlers.EventEmailChanged, UserID: u.ID, Email: u.Email})
	return h.writeMessage(w, r, "email.changed")
}

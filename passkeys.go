package authsys

import (
	"context"

	"github.com/authsys-go/authsys/internal/server"
	"github.com/authsys-go/authsys/store"
)

// Passkey is one passkey (WebAuthn credential) of a user; see
// store.Passkey.
type Passkey = store.Passkey

// ErrPasskeysOff is returned by UserPasskeys and RemovePasskey while
// passkeys are off (Config.Passkeys.RPID is empty).
var ErrPasskeysOff = server.ErrPasskeysOff

// UserPasskeys returns the passkeys of the user userID, oldest first, as
// the admin API lists them. It returns an error wrapping store.ErrNotFound
// for an unknown user, ErrPasskeysOff while passkeys are off, or the
// store's error. It is safe for concurrent use.
func (a *Auth) UserPasskeys(ctx context.Context, userID string) ([]Passkey, error) {
	return a.h.Passkeys(ctx, userID)
}

// RemovePasskey removes the passkey passkeyID of the user userID, as the
// admin API does, for an operator tool: EventPasskeyRemoved names actor
// (e.g. "cli:alice"), and the user is mailed the KindPasskeyRemoved notice
// (in the background: call Shutdown before the program exits). Every
// session of the user ends (the token version moves). It returns an error wrapping store.ErrNotFound
// for an unknown user or passkey (or another user's), ErrPasskeysOff
// while passkeys are off, or the store's error. It is safe for concurrent
// use.
func (a *Auth) RemovePasskey(ctx context.Context, actor, userID, passkeyID string) error {
	return a.h.RemovePasskey(ctx, nil, actor, userID, passkeyID)
}

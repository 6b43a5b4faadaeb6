package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/authsys-go/authsys/store"
)

// ErrCannotList is returned by RotateTOTPSecrets when the UserStore does not
// implement store.UserLister.
var ErrCannotList = errors.New("authsys: the user store cannot list users (store.UserLister)")

// rotatePage is how many users RotateTOTPSecrets reads at once.
const rotatePage = 200

// RotateTOTPSecrets seals every stored TOTP secret (confirmed or pending)
// that is under an older key again under the current TOTP key, each with
// one UpdateUser, and returns how many accounts it changed. Once it has
// run, the older keys can leave the configuration without locking anyone
// out of two-factor authentication. It needs a UserStore that implements
// store.UserLister, and stops at the first error (running it again goes on
// where it is needed: accounts done are not changed twice).
func (h *Handlers) RotateTOTPSecrets(ctx context.Context) (int, error) {
	lister, ok := h.deps.Users.(store.UserLister)
	if !ok {
		return 0, ErrCannotList
	}
	changed := 0
	after := ""
	for {
		page, err := lister.ListUsers(ctx, "", after, rotatePage)
		if err != nil {
			return changed, err
		}
		for _, u := range page {
			if u.TOTPSecret == "" && u.TOTPPendingSecret == "" {
				continue
			}
			did := false
			_, err := h.sess.UpdateUser(ctx, u.ID, func(x *store.User) error {
				did = false
				for _, f := range []*string{&x.TOTPSecret, &x.TOTPPendingSecret} {
					if *f == "" {
						continue
					}
					rotated, err := h.reseal(f)
					if err != nil {
						return fmt.Errorf("user %s: %w", x.ID, err)
					}
					did = did || rotated
				}
				return nil
			})
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue // deleted meanwhile
			case err != nil:
				return changed, err
			}
			if did {
				changed++
			}
		}
		if len(page) < rotatePage {
			return changed, nil
		}
		after = page[len(page)-1].Email
	}
}

// reseal seals the encrypted TOTP secret *enc again under the current key
// when it is under an older one, and reports whether it did.
func (h *Handlers) reseal(enc *string) (bool, error) {
	fresh, rotated, err := h.deps.TOTPCipher.Rotate(*enc)
	if err != nil || !rotated {
		return false, err
	}
	*enc = fresh
	return true, nil
}

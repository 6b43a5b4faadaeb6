package authsys_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

// hookStore runs a hook once, just before the next UpdateUser: a change
// that commits while a request is between its reads and its write.
type hookStore struct {
	*memory.Store
	hook atomic.Pointer[func()]
}

func (s *hookStore) UpdateUser(ctx context.Context, id string, fn func(*authsys.User) error) (authsys.User, error) {
	if h := s.hook.Swap(nil); h != nil {
		(*h)()
	}
	return s.Store.UpdateUser(ctx, id, fn)
}

// TestLoginRacingARevocation commits a password reset (new hash, token
// version bumped) while a login with the old password is between its
// password check and its write: the login must fail and set no cookie,
// not hand out a session that outlives the reset. The same holds for a
// logout-all or an admin revocation (a bare token version bump) and a
// deactivation.
func TestLoginRacingARevocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*authsys.User)
	}{
		{"password reset", func(u *authsys.User) {
			u.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"
			u.TokenVersion++
		}},
		{"revocation", func(u *authsys.User) { u.TokenVersion++ }},
		{"deactivation", func(u *authsys.User) { u.IsActive = false; u.TokenVersion++ }},
		{"nothing (control)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hs *hookStore
			e := newEnv(t, func(c *authsys.Config) {
				hs = &hookStore{Store: c.Users.(*memory.Store)}
				c.Users = hs
			})
			const email = "racer@example.com"
			e.signupVerified(email, goodPassword)
			u := coreUser(e, email)
			if tc.change != nil {
				hook := func() {
					if _, err := e.store.UpdateUser(context.Background(), u.ID, func(x *authsys.User) error { tc.change(x); return nil }); err != nil {
						t.Error(err)
					}
				}
				hs.hook.Store(&hook)
			}
			c := e.client()
			r := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
			if tc.change == nil {
				expect(t, r, http.StatusOK, "")
				return
			}
			expect(t, r, http.StatusUnauthorized, "invalid_credentials")
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("a failed login set cookies %q", sc)
			}
			e.events.mu.Lock()
			var failed []authsys.Event
			for _, ev := range e.events.ev {
				if ev.Kind == "login_failed" {
					failed = append(failed, ev)
				}
			}
			e.events.mu.Unlock()
			if len(failed) != 1 || failed[0].Reason != "account_changed" || failed[0].UserID != u.ID {
				t.Errorf("got login_failed events %+v, want one for the user with reason account_changed", failed)
			}
			expect(t, c.get("/me/"), http.StatusUnauthorized, "not_authenticated")
		})
	}
}

// TestTwoFactorChangesRacingARevocation commits a revocation between the
// password check of /2fa/disable/ (and of a backup-code regeneration) and
// its write: the change is refused, and 2FA and the codes stay as they
// were.
func TestTwoFactorChangesRacingARevocation(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"disable", "/2fa/disable/"},
		{"regenerate", "/2fa/backup-codes/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hs *hookStore
			e := newEnv(t, func(c *authsys.Config) {
				hs = &hookStore{Store: c.Users.(*memory.Store)}
				c.Users = hs
			})
			u := e.tfaEnabled("twofa@example.com")
			before := coreUser(e, u.email)
			hook := func() {
				if _, err := e.store.UpdateUser(context.Background(), before.ID, func(x *authsys.User) error { x.TokenVersion++; return nil }); err != nil {
					t.Error(err)
				}
			}
			hs.hook.Store(&hook)
			body := map[string]string{"password": goodPassword, "code": e.tfaFreshCode(u.secret)}
			expect(t, u.c.post(tc.path, body), http.StatusUnauthorized, "invalid_token")
			after := coreUser(e, u.email)
			if !after.TOTPEnabled || !sameHashes(before.BackupCodes, after.BackupCodes) {
				t.Errorf("the refused request changed 2FA: enabled %t, codes changed %t", after.TOTPEnabled, !sameHashes(before.BackupCodes, after.BackupCodes))
			}
		})
	}
}

func sameHashes(a, b []store.BackupCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Hash != b[i].Hash || !a[i].UsedAt.Equal(b[i].UsedAt) {
			return false
		}
	}
	return true
}

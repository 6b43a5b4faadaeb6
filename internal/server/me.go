package server

import (
	"net/http"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/store"
)

// userJSON is the public view of a user.
type userJSON = handlers.Account

// publicView returns the public view of u: no secret, and a deep copy of
// the profile without the names in private.
func publicView(u store.User, private map[string]bool) userJSON {
	a := userJSON{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, IsActive: u.IsActive, IsStaff: u.IsStaff,
		TwoFactorEnabled: u.TOTPEnabled, DateJoined: u.DateJoined.UTC(), LastLogin: u.LastLogin.UTC(),
	}
	for k, v := range u.Profile {
		if private[k] {
			continue
		}
		if a.Profile == nil {
			a.Profile = make(map[string]any, len(u.Profile))
		}
		a.Profile[k] = v
	}
	if a.Profile != nil {
		a.Profile = store.User{Profile: a.Profile}.Clone().Profile
	}
	return a
}

type userResponse struct {
	User userJSON `json:"user"`
}

func (h *Handlers) me(w http.ResponseWriter, r *http.Request, u store.User) error {
	return writeJSON(w, http.StatusOK, userResponse{h.publicUser(u)})
}

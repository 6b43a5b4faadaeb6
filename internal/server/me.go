package server

import (
	"maps"
	"net/http"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/store"
)

// userJSON is the public view of a user.
type userJSON = handlers.Account

// PublicUser returns the public view of u: no secret, the profile copied.
func PublicUser(u store.User) handlers.Account { return publicUser(u) }

func publicUser(u store.User) userJSON {
	a := userJSON{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, IsActive: u.IsActive, IsStaff: u.IsStaff,
		TwoFactorEnabled: u.TOTPEnabled, DateJoined: u.DateJoined.UTC(), LastLogin: u.LastLogin.UTC(),
	}
	if len(u.Profile) > 0 {
		a.Profile = maps.Clone(u.Profile)
	}
	return a
}

type userResponse struct {
	User userJSON `json:"user"`
}

func (h *Handlers) me(w http.ResponseWriter, r *http.Request, u store.User) error {
	return writeJSON(w, http.StatusOK, userResponse{publicUser(u)})
}

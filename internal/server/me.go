package server

import (
	"net/http"
	"time"

	"github.com/authsys-go/authsys/store"
)

// userJSON is the public view of a user.
type userJSON struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	IsActive         bool      `json:"is_active"`
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	DateJoined       time.Time `json:"date_joined"`
}

func publicUser(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, IsActive: u.IsActive, TwoFactorEnabled: u.TOTPEnabled, DateJoined: u.DateJoined.UTC()}
}

type userResponse struct {
	User userJSON `json:"user"`
}

func (h *Handlers) me(w http.ResponseWriter, r *http.Request, u store.User) error {
	return writeJSON(w, http.StatusOK, userResponse{publicUser(u)})
}

package server

import (
	"net/http"

	"github.com/authsys-go/authsys/handlers"
)

func (h *Handlers) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(handlers.OpenAPIDocument())
	return err
}

// jwks serves the public keys of the EdDSA signing and verification keys as
// a JSON Web Key Set, so that other services can verify access tokens. It is
// an empty set with HS256, whose keys are secret.
func (h *Handlers) jwks(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, h.deps.Tokens.JWKS())
}

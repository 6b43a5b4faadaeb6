package handlers

import (
	_ "embed"
	"net/http"
)

// OpenAPIDocument is the OpenAPI document of the public and admin APIs,
// embedded in the binary.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (h *Handlers) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(OpenAPIDocument)
	return err
}

package handlers

import (
	_ "embed"
	"slices"
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.1 document of the public and admin
// APIs as the module ships it (a copy), without an application's profile
// fields: an application serves authsys.Auth.OpenAPIDocument, which adds
// them (and which Handler serves at GET /openapi.json).
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

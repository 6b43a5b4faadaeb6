package handlers

import (
	_ "embed"
	"slices"
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.1 document of the public and admin
// APIs (a copy; Handler serves the same bytes at GET /openapi.json).
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

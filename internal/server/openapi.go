package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/authsys-go/authsys/handlers"
)

func (h *Handlers) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(h.deps.OpenAPI)
	return err
}

// OpenAPIDocument returns a copy of the document Handler serves.
func (h *Handlers) OpenAPIDocument() []byte { return slices.Clone(h.deps.OpenAPI) }

// OpenAPIDocument returns handlers' OpenAPI document with the fields of p:
// each a property of the signup request with its Schema ({"type":
// "string"} when none), required when Required and else also null, and
// each that is not Private a property of the User schema's profile. Without fields it is handlers'
// document as it is. The schemas must be JSON objects.
func OpenAPIDocument(p Profile) ([]byte, error) {
	base := handlers.OpenAPIDocument()
	if len(p.Fields) == 0 {
		return base, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	object := func(v any, keys ...string) (map[string]any, error) {
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				break
			}
			v = m[k]
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi.json has no object at %s", strings.Join(keys, "."))
		}
		return m, nil
	}
	signup, err := object(doc, "components", "schemas", "SignupRequest")
	if err != nil {
		return nil, err
	}
	props, err := object(signup, "properties")
	if err != nil {
		return nil, err
	}
	profile, err := object(doc, "components", "schemas", "User", "properties", "profile")
	if err != nil {
		return nil, err
	}
	required, _ := signup["required"].([]any)
	public := map[string]any{}
	for _, f := range p.Fields {
		var schema any = map[string]any{"type": "string"}
		if len(f.Schema) > 0 {
			if err := json.Unmarshal(f.Schema, &schema); err != nil {
				return nil, fmt.Errorf("the Schema of %s: %w", f.Name, err)
			}
		}
		if _, ok := schema.(map[string]any); !ok {
			return nil, fmt.Errorf("the Schema of %s is not a JSON object", f.Name)
		}
		if f.Required {
			props[f.Name] = schema
			required = append(required, f.Name)
		} else {
			// An optional field may be null, as if it were absent.
			props[f.Name] = map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
		}
		if !f.Private {
			public[f.Name] = schema
		}
	}
	signup["required"] = required
	if len(public) > 0 {
		profile["properties"] = public
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jwks serves the public keys of the EdDSA signing and verification keys as
// a JSON Web Key Set, so that other services can verify access tokens. It is
// an empty set with HS256, whose keys are secret.
func (h *Handlers) jwks(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, h.deps.Tokens.JWKS())
}

package main

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authsys-go/authsys"
)

// maxDisplayName bounds a display name, in characters.
const maxDisplayName = 80

// profile declares the example's own account field: an optional
// display_name that signup accepts and GET /api/auth/me/ shows, trimmed
// and bounded.
func profile() authsys.Profile {
	return authsys.Profile{Fields: []authsys.ProfileField{{
		Name:     "display_name",
		Schema:   json.RawMessage(`{"type": "string", "minLength": 1, "maxLength": 80, "description": "The name shown to other users."}`),
		Validate: validateDisplayName,
	}}}
}

// validateDisplayName keeps a display name of 1 to maxDisplayName
// characters, trimmed, without control characters.
func validateDisplayName(_ context.Context, v any) (any, error) {
	s, ok := v.(string)
	if !ok || strings.ContainsFunc(s, unicode.IsControl) {
		return nil, &authsys.FieldError{Code: "invalid_display_name", Message: "Enter a name, on one line."}
	}
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return nil, nil // left out, as if not given
	case n > maxDisplayName:
		return nil, &authsys.FieldError{Code: "display_name_too_long", Message: "Enter at most 80 characters."}
	}
	return s, nil
}

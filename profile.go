package authsys

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/authsys-go/authsys/internal/server"
)

// Profile declares the application's own account fields: the extra members
// POST /signup/ accepts besides email and password. Their values reach
// UserStore.CreateUser in User.Profile, show in the user's public view
// (Account.Profile: GET /me/, a login's answer, UserFromContext), unless
// Private, and are described by the OpenAPI document (Auth.OpenAPIDocument)
// in the signup request and the User schema's profile. A signup member
// that is neither email, password nor a declared field is refused with
// invalid_json, as before.
type Profile struct {
	// Fields are the declared fields, validated in this order. Default
	// none: a signup takes email and password only.
	Fields []ProfileField
}

// ProfileField is one field of Profile.
type ProfileField struct {
	// Name is the JSON member of the signup body and the key in
	// User.Profile: 1 to 64 characters from A-Z a-z 0-9 _, not starting
	// with a digit, unique whatever the case, and neither "email" nor
	// "password" in any case. Required.
	Name string
	// Required refuses a signup that lacks the field (absent, null, or a
	// string of white space) with the field error code "required".
	// Default false: the field may be left out, and is then absent from
	// User.Profile.
	Required bool
	// Private keeps the field out of the public view of the user
	// (Account.Profile) and of the User schema of the OpenAPI document: an
	// invite code, a referral source. It still reaches
	// Hooks.BeforeSignup and CreateUser. Default false.
	Private bool
	// Schema is the JSON Schema of the value, a JSON object, for the
	// OpenAPI document: e.g. {"type": "string", "maxLength": 80}. The
	// library checks values only by Validate, and without a Validate only
	// that the value is a string, so the Schema of a field without
	// Validate must have "type": "string". Default {"type": "string"}.
	Schema json.RawMessage
	// Validate checks a value the signup gave (never a missing or null
	// one), as encoding/json decoded it (string, float64, bool, []any or
	// map[string]any), and returns the value to keep: normalized, or nil
	// to leave the field out (for a Required field, the field error
	// "required"). Its value must be one encoding/json encodes,
	// as the SQL stores keep the profile as JSON and give it back decoded.
	// To refuse the value it returns a *FieldError (or several joined with
	// errors.Join), rendered as field errors of this field, with the
	// application's stable codes; a *Problem is rendered as it is, and any
	// other error fails the request (500, or 503 when it wraps
	// ErrUnavailable). Each runs after the rate limit of the signup, so a
	// Validate that looks something up (an invite code) is no unlimited
	// oracle, and before Hooks.BeforeSignup; it runs for every signup
	// alike, whether or not the address has an account. It must be safe
	// for concurrent use. Default: the value must be a string without
	// control characters other than tab and line breaks (field error code
	// "invalid_text"), kept as it is.
	Validate func(ctx context.Context, value any) (any, error)
}

// FieldProblem returns the problem that refuses one request field: 400
// validation_failed, with Errors[field] = [{code, message}]. A hook returns
// it to refuse a field by name (Hooks.BeforeSignup refusing an invite
// code, say); code is the application's stable code, message says what is
// wrong to people.
func FieldProblem(field, code, message string) *Problem {
	return server.FieldProblem(field, code, message)
}

// build validates the fields and returns them with the OpenAPI document
// that describes them.
func (p Profile) build() (server.Profile, []byte, error) {
	var out server.Profile
	seen := map[string]bool{}
	for i, f := range p.Fields {
		field := fmt.Sprintf("Profile.Fields[%d]", i)
		lower := strings.ToLower(f.Name)
		switch {
		case !validFieldName(f.Name):
			return out, nil, bad(field+".Name", fmt.Sprintf("%q is not 1 to 64 characters from A-Z a-z 0-9 _ that do not start with a digit", f.Name))
		case lower == "email" || lower == "password":
			return out, nil, bad(field+".Name", fmt.Sprintf("%q is a member signup has already", f.Name))
		case seen[lower]:
			return out, nil, bad(field+".Name", fmt.Sprintf("%q is declared twice (names are compared whatever their case)", f.Name))
		}
		seen[lower] = true
		if len(f.Schema) > 0 {
			var schema map[string]any
			if err := json.Unmarshal(f.Schema, &schema); err != nil || schema == nil {
				return out, nil, bad(field+".Schema", "is not a JSON object")
			}
			if t, _ := schema["type"].(string); f.Validate == nil && t != "string" {
				return out, nil, bad(field+".Validate", `is required when the Schema does not have "type": "string" (without Validate a field takes a string)`)
			}
		}
		out.Fields = append(out.Fields, server.ProfileField(f))
	}
	doc, err := server.OpenAPIDocument(out)
	if err != nil {
		return out, nil, bad("Profile.Fields", err.Error())
	}
	return out, doc, nil
}

// validFieldName reports whether name is 1 to 64 characters from A-Z a-z
// 0-9 _, not starting with a digit: a name every JSON tool, form and SQL
// column mapping takes as it is.
func validFieldName(name string) bool {
	if len(name) == 0 || len(name) > 64 || ('0' <= name[0] && name[0] <= '9') {
		return false
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/store"
)

// The application's profile fields (Profile): the extra members of a
// signup, their validation, the before-hooks, and the public view that
// leaves out the Private ones.

// signupRequest is the body of a signup, besides the profile fields.
type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// readSignup decodes a signup body: email and password as credentials (as
// encoding/json matches struct fields, case-insensitively), and the
// members naming a declared profile field, exactly, undecoded. Any other
// member is refused as decode refuses an unknown field.
func (h *Handlers) readSignup(w http.ResponseWriter, r *http.Request) (signupRequest, map[string]json.RawMessage, error) {
	var in signupRequest
	if len(h.deps.Profile.Fields) == 0 {
		return in, nil, decode(w, r, &in)
	}
	body, err := readBody(w, r)
	if err != nil {
		return in, nil, err
	}
	var members map[string]json.RawMessage
	if err := decodeBody(body, &members); err != nil {
		return in, nil, err
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return in, nil, problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.invalid_json")
	}
	var extra map[string]json.RawMessage
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case strings.EqualFold(k, "email"), strings.EqualFold(k, "password"):
		case h.profileField(k) >= 0:
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k] = members[k]
		default:
			return in, nil, problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.unknown_field", "field", strconv.Quote(k))
		}
	}
	return in, extra, nil
}

// profileField returns the index of the declared field name, or -1.
func (h *Handlers) profileField(name string) int {
	return slices.IndexFunc(h.deps.Profile.Fields, func(f ProfileField) bool { return f.Name == name })
}

// checkProfile records in f what is wrong with the declared fields of a
// signup, before its rate limit: a required one missing (absent, null, or
// a blank string), a value that is not text for a field without Validate.
// It returns the values given, decoded, by name; nil when none.
func (h *Handlers) checkProfile(f fields, extra map[string]json.RawMessage) map[string]any {
	var values map[string]any
	for _, pf := range h.deps.Profile.Fields {
		var v any
		if raw, ok := extra[pf.Name]; ok {
			_ = json.Unmarshal(raw, &v) // valid JSON: decodeBody checked it
		}
		s, isString := v.(string)
		switch {
		case v == nil || (isString && strings.TrimSpace(s) == ""):
			if pf.Required {
				f.add(pf.Name, fieldRequired)
				continue
			}
			if v == nil {
				continue
			}
		case pf.Validate == nil && (!isString || strings.ContainsFunc(s, notText)):
			f.add(pf.Name, fieldInvalidText)
			continue
		}
		if values == nil {
			values = map[string]any{}
		}
		values[pf.Name] = v
	}
	return values
}

// notText reports the characters a text field without Validate refuses:
// control characters other than tab and line breaks.
func notText(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }

// validateProfile runs the Validate function of each declared field that
// has a value, in the order of Profile.Fields, after the rate limit, and
// returns the values to keep: each as its Validate returned it, and left
// out when it returned nil (a required one is then refused as missing). Field errors of every field are gathered
// into one validation_failed problem; a *Problem is returned as it is,
// and any other error as the request's failure.
func (h *Handlers) validateProfile(ctx context.Context, values map[string]any) (map[string]any, error) {
	f := fields{}
	for _, pf := range h.deps.Profile.Fields {
		v, ok := values[pf.Name]
		if !ok || pf.Validate == nil {
			continue
		}
		nv, err := pf.Validate(ctx, v)
		if err != nil {
			fes, isField := fieldErrorsOf(err)
			if !isField {
				return nil, hookProblem(err)
			}
			f[pf.Name] = append(f[pf.Name], fes...)
			continue
		}
		if nv == nil {
			// Normalized away: absent, which a required field may not be.
			delete(values, pf.Name)
			if pf.Required {
				f.add(pf.Name, fieldRequired)
			}
			continue
		}
		if hasNUL(nv) {
			// PostgreSQL's jsonb cannot hold U+0000, and no store should
			// have to: refused like a value the validator refused.
			f.add(pf.Name, fieldInvalidValue)
			continue
		}
		values[pf.Name] = nv
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, nil
	}
	return values, nil
}

// beforeSignup calls Hooks.BeforeSignup, if any, with a copy of the
// profile; its error is the request's (see hookError).
func (h *Handlers) beforeSignup(r *http.Request, email string, profile map[string]any) error {
	if h.deps.Hooks.BeforeSignup == nil {
		return nil
	}
	s := handlers.Signup{Email: email, Profile: store.User{Profile: profile}.Clone().Profile}
	return hookError(h.deps.Hooks.BeforeSignup(r, s), "email")
}

// beforeLogin calls Hooks.BeforeLogin, if any, for u, whose password was
// right and who is active; a refusal emits login_failed with reason
// "vetoed".
func (h *Handlers) beforeLogin(r *http.Request, u store.User) error {
	if h.deps.Hooks.BeforeLogin == nil {
		return nil
	}
	if err := h.deps.Hooks.BeforeLogin(r, h.publicUser(u)); err != nil {
		h.emit(r, Event{Kind: handlers.EventLoginFailed, UserID: u.ID, Email: u.Email, Reason: "vetoed"})
		return hookError(err, "email")
	}
	return nil
}

// hookError turns the error of an application's hook into the request's:
// a *Problem as it is, *FieldError values (alone, joined or wrapped) as
// field errors of field, and any other error as it is (500, or 503 for an
// outage).
func hookError(err error, field string) error {
	if err == nil {
		return nil
	}
	if fes, ok := fieldErrorsOf(err); ok {
		return fieldProblem(map[string][]handlers.FieldError{field: fes})
	}
	return hookProblem(err)
}

// hookProblem returns err, with a *Problem it holds checked: one without an
// error status (4xx or 5xx) cannot be rendered, and is an internal error.
func hookProblem(err error) error {
	var p *Problem
	if errors.As(err, &p) && (p.Status < 400 || p.Status > 599) {
		return errors.New("authsys: a hook returned a *Problem without a 4xx or 5xx Status: " + err.Error())
	}
	return err
}

// fieldErrorsOf returns the field errors err is made of, and whether it is
// made only of them: a *handlers.FieldError, or errors joined or wrapped
// around such errors. An error without a code gets the code
// invalid_value; one without a message is given one when the problem is
// rendered (see locales.problem).
func fieldErrorsOf(err error) ([]handlers.FieldError, bool) {
	switch e := err.(type) {
	case nil:
		return nil, false
	case *handlers.FieldError:
		if e == nil {
			return nil, false
		}
		fe := *e
		if fe.Code == "" {
			fe.Code = fieldInvalidValue
		}
		// An empty message stays empty: rendering gives it the catalog's
		// text for the code in the request's language (an application's
		// own code declared in Locales.Messages included), else a
		// generic one.
		return []handlers.FieldError{fe}, true
	case interface{ Unwrap() []error }:
		var out []handlers.FieldError
		for _, x := range e.Unwrap() {
			if x == nil {
				continue
			}
			fes, ok := fieldErrorsOf(x)
			if !ok {
				return nil, false
			}
			out = append(out, fes...)
		}
		return out, len(out) > 0
	case interface{ Unwrap() error }:
		return fieldErrorsOf(e.Unwrap())
	}
	return nil, false
}

// FieldProblem returns the validation_failed problem of one field error.
func FieldProblem(field, code, message string) *Problem {
	fes, _ := fieldErrorsOf(&handlers.FieldError{Code: code, Message: message})
	return fieldProblem(map[string][]handlers.FieldError{field: fes})
}

// PublicUser returns the public view of u: no secret, and a copy of the
// profile without the fields declared Private.
func (h *Handlers) PublicUser(u store.User) handlers.Account { return h.publicUser(u) }

func (h *Handlers) publicUser(u store.User) handlers.Account { return publicView(u, h.private) }

// hasNUL reports whether v, as JSON, holds U+0000 in a string or a member
// name, at any depth. A value that cannot be marshalled counts as holding
// one (it cannot be stored either).
func hasNUL(v any) bool {
	raw, err := json.Marshal(v)
	if err != nil {
		return true
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return true
	}
	var walk func(any) bool
	walk = func(x any) bool {
		switch x := x.(type) {
		case string:
			return strings.ContainsRune(x, 0)
		case []any:
			return slices.ContainsFunc(x, walk)
		case map[string]any:
			for k, e := range x {
				if strings.ContainsRune(k, 0) || walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(x)
}

package authsys_test

// The application's profile fields: signup's extra members, their
// validation, the stores, the public view and the OpenAPI document.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authsys-go/authsys"
	"github.com/getkin/kin-openapi/openapi3"
)

// profileFields declares the fields of the profile tests: a required
// display name trimmed and bounded by its validator, an optional age that
// must be a whole number, an optional nickname with the default check,
// and a private referral code.
func profileFields(c *authsys.Config) {
	c.Profile.Fields = []authsys.ProfileField{
		{
			Name: "display_name", Required: true,
			Schema: json.RawMessage(`{"type": "string", "minLength": 1, "maxLength": 40}`),
			Validate: func(_ context.Context, v any) (any, error) {
				s, ok := v.(string)
				if !ok {
					return nil, &authsys.FieldError{Code: "not_text", Message: "Enter text."}
				}
				s = strings.TrimSpace(s)
				if s == "-" {
					return nil, nil // normalized away: missing
				}
				if utf8.RuneCountInString(s) > 40 {
					return nil, &authsys.FieldError{Code: "display_name_too_long"}
				}
				return s, nil
			},
		},
		{
			Name:   "age",
			Schema: json.RawMessage(`{"type": "integer", "minimum": 13}`),
			Validate: func(_ context.Context, v any) (any, error) {
				n, ok := v.(float64)
				if !ok || n != float64(int(n)) {
					return nil, errors.Join(
						&authsys.FieldError{Code: "not_a_whole_number", Message: "Enter a whole number."},
						&authsys.FieldError{Code: "see_terms", Message: "See the terms."})
				}
				if n < 13 {
					return nil, &authsys.FieldError{Code: "too_young", Message: "You must be 13 or older."}
				}
				return n, nil
			},
		},
		{Name: "nickname"},
		{Name: "referral", Private: true},
	}
}

// TestProfileSignup: the declared fields reach the store, the public ones
// show in /me/, the login answer, UserFromContext and Authenticate, the
// private one nowhere public; each refusal names its field and code.
func TestProfileSignup(t *testing.T) {
	e := newEnv(t, profileFields)
	var fromContext authsys.Account
	e.Mux.Handle("GET /api/profile", e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromContext, _ = authsys.UserFromContext(r.Context())
	})))
	const email = "ada@example.com"
	c := e.client()
	r := c.post("/signup/", map[string]any{
		"email": email, "password": goodPassword,
		"display_name": "  Ada Lovelace ", "age": 36, "nickname": "Countess\tof Lovelace", "referral": "friend-42",
	})
	expect(t, r, http.StatusCreated, "")
	wantStored := map[string]any{"display_name": "Ada Lovelace", "age": 36.0, "nickname": "Countess\tof Lovelace", "referral": "friend-42"}
	if got := coreUser(e, email).Profile; !reflect.DeepEqual(got, wantStored) {
		t.Fatalf("stored Profile: got %#v, want %#v", got, wantStored)
	}
	q := linkParams(t, e.waitMail(email))
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")

	wantPublic := map[string]any{"display_name": "Ada Lovelace", "age": 36.0, "nickname": "Countess\tof Lovelace"}
	login := c.post("/login/", map[string]string{"email": email, "password": goodPassword})
	expect(t, login, http.StatusOK, "")
	if got := login.json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, wantPublic) {
		t.Errorf("login's user.profile: got %#v, want %#v", got, wantPublic)
	}
	me := c.get("/me/")
	expect(t, me, http.StatusOK, "")
	if got := me.json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, wantPublic) {
		t.Errorf("/me/'s user.profile: got %#v, want %#v", got, wantPublic)
	}
	if strings.Contains(string(me.body), "friend-42") || strings.Contains(string(login.body), "friend-42") {
		t.Errorf("the private field shows: /me/ %s, login %s", me.body, login.body)
	}
	if r := c.do(http.MethodGet, "/api/profile", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/profile: got %d", r.StatusCode)
	}
	if !reflect.DeepEqual(fromContext.Profile, wantPublic) {
		t.Errorf("UserFromContext's Profile: got %#v, want %#v", fromContext.Profile, wantPublic)
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "access_token", Value: c.accessCookie()})
	a, err := e.auth.Authenticate(req)
	if err != nil || !reflect.DeepEqual(a.Profile, wantPublic) {
		t.Errorf("Authenticate: got Profile %#v, error %v; want %#v", a.Profile, err, wantPublic)
	}
	// The view is a copy: changing it changes nothing stored.
	a.Profile["display_name"] = "changed"
	if got := coreUser(e, email).Profile["display_name"]; got != "Ada Lovelace" {
		t.Errorf("stored display_name after changing a view: got %v", got)
	}

	// Only the required field: the others are absent, not empty.
	expect(t, e.client().post("/signup/", map[string]any{"email": "min@example.com", "password": goodPassword, "display_name": "Min", "nickname": nil}), http.StatusCreated, "")
	if got := coreUser(e, "min@example.com").Profile; !reflect.DeepEqual(got, map[string]any{"display_name": "Min"}) {
		t.Errorf("stored Profile with only the required field: got %#v", got)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		fields map[string][]string // field → codes
	}{
		{"required missing", map[string]any{"age": 20}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"required null", map[string]any{"display_name": nil}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"required blank", map[string]any{"display_name": "   "}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"validator leaves a required field out", map[string]any{"display_name": "-"}, 400, "validation_failed", map[string][]string{"display_name": {"required"}}},
		{"validator refuses", map[string]any{"display_name": strings.Repeat("x", 41)}, 400, "validation_failed", map[string][]string{"display_name": {"display_name_too_long"}}},
		{"validator refuses the type", map[string]any{"display_name": 7}, 400, "validation_failed", map[string][]string{"display_name": {"not_text"}}},
		{"joined field errors", map[string]any{"display_name": "A", "age": 3.5}, 400, "validation_failed", map[string][]string{"age": {"not_a_whole_number", "see_terms"}}},
		{"every field's errors at once", map[string]any{"display_name": strings.Repeat("x", 41), "age": 12}, 400, "validation_failed", map[string][]string{"display_name": {"display_name_too_long"}, "age": {"too_young"}}},
		{"default check: not a string", map[string]any{"display_name": "A", "nickname": 5}, 400, "validation_failed", map[string][]string{"nickname": {"invalid_text"}}},
		{"default check: control character", map[string]any{"display_name": "A", "nickname": "a\x00b"}, 400, "validation_failed", map[string][]string{"nickname": {"invalid_text"}}},
		{"default check and required together", map[string]any{"nickname": []any{"x"}}, 400, "validation_failed", map[string][]string{"display_name": {"required"}, "nickname": {"invalid_text"}}},
		{"unknown member", map[string]any{"display_name": "A", "favourite_colour": "red"}, 400, "invalid_json", nil},
		{"field name in another case", map[string]any{"Display_Name": "A"}, 400, "invalid_json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"email": "refused@example.com", "password": goodPassword}
			for k, v := range tc.body {
				body[k] = v
			}
			r := e.client().post("/signup/", body)
			expect(t, r, tc.status, tc.code)
			var p struct {
				Errors map[string][]authsys.FieldError
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for f, fes := range p.Errors {
				for _, fe := range fes {
					got[f] = append(got[f], fe.Code)
					if fe.Message == "" {
						t.Errorf("field %s, code %s: got no message", f, fe.Code)
					}
				}
			}
			if tc.fields == nil {
				tc.fields = map[string][]string{}
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("got field errors %v, want %v", got, tc.fields)
			}
			if _, err := e.store.UserByEmail(t.Context(), "refused@example.com"); err == nil {
				t.Error("a refused signup created the account")
			}
		})
	}
}

// TestProfileNotDeclared: without declared fields a signup takes email and
// password only, as before, and /me/ shows a profile the store has.
func TestProfileNotDeclared(t *testing.T) {
	e := newEnv(t)
	expect(t, e.client().post("/signup/", map[string]any{"email": "x@example.com", "password": goodPassword, "display_name": "X"}), http.StatusBadRequest, "invalid_json")
	e.signupVerified("y@example.com", goodPassword)
	coreSetUser(e, "y@example.com", func(u *authsys.User) { u.Profile = map[string]any{"plan": "pro"} })
	c := e.loggedIn("y@example.com", goodPassword)
	if got := c.get("/me/").json(t)["user"].(map[string]any)["profile"]; !reflect.DeepEqual(got, map[string]any{"plan": "pro"}) {
		t.Errorf("/me/'s profile: got %#v, want the stored one", got)
	}
}

// TestProfileOpenAPIDocument: the document an Auth serves has its declared
// fields in the signup request and, but the private one, in the user's
// profile; it is a valid OpenAPI document; the suite's validation of every
// call (harnessValidate) checks the signup and /me/ above against it, and
// refuses a signup with an undeclared member.
func TestProfileOpenAPIDocument(t *testing.T) {
	e := newEnv(t, profileFields)
	served := e.client().get("/openapi.json")
	expect(t, served, http.StatusOK, "")
	doc := e.auth.OpenAPIDocument()
	if string(served.body) != string(doc) {
		t.Fatalf("GET /openapi.json: got %d bytes, want the %d of Auth.OpenAPIDocument", len(served.body), len(doc))
	}
	spec, err := openapiLoadDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		t.Fatalf("strict validation: %v", err)
	}
	signup := spec.doc.Components.Schemas["SignupRequest"].Value
	for _, name := range []string{"email", "password", "display_name", "age", "nickname", "referral"} {
		if signup.Properties[name] == nil {
			t.Errorf("SignupRequest: no property %q", name)
		}
	}
	// A required field has its schema; an optional one may also be null.
	if got := signup.Properties["display_name"].Value.Type.Slice(); !slices.Equal(got, []string{"string"}) {
		t.Errorf("SignupRequest.display_name: got type %v, want the declared schema's [string]", got)
	}
	for name, want := range map[string]string{"age": "integer", "nickname": "string"} {
		var got []string
		for _, alt := range signup.Properties[name].Value.AnyOf {
			got = append(got, alt.Value.Type.Slice()...)
		}
		if !slices.Equal(got, []string{want, "null"}) {
			t.Errorf("SignupRequest.%s: got anyOf types %v, want [%s null]", name, got, want)
		}
	}
	if got, want := slices.Sorted(slices.Values(signup.Required)), []string{"display_name", "email", "password"}; !slices.Equal(got, want) {
		t.Errorf("SignupRequest.required: got %v, want %v", got, want)
	}
	profile := spec.doc.Components.Schemas["User"].Value.Properties["profile"].Value
	var public []string
	for name := range profile.Properties {
		public = append(public, name)
	}
	if got, want := slices.Sorted(slices.Values(public)), []string{"age", "display_name", "nickname"}; !slices.Equal(got, want) {
		t.Errorf("User.profile properties: got %v, want %v (not the private referral)", got, want)
	}

	// A real signup with the fields and the /me/ that shows them pass the
	// validation of every call against this document.
	c := e.client()
	expect(t, c.post("/signup/", map[string]any{"email": "doc@example.com", "password": goodPassword, "display_name": "Doc", "age": 40, "referral": "r"}), http.StatusCreated, "")
	q := linkParams(t, e.waitMail("doc@example.com"))
	expect(t, c.post("/verify-account/", map[string]string{"uid": q.Get("uid"), "token": q.Get("token")}), http.StatusOK, "")
	c = e.loggedIn("doc@example.com", goodPassword)
	expect(t, c.get("/me/"), http.StatusOK, "")

	// The validation uses the env's document: the same calls against the
	// module's own document, without the fields, fail; and a /me/ whose
	// profile breaks the declared schema fails against the env's.
	user := `{"id":"u1","email":"a@example.com","email_verified":true,"is_active":true,"is_staff":false,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z","profile":{"display_name":"A","age":%s}}`
	check := func(method, path, body string, status int, resBody string) []error {
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "access_token=x")
		return openapiCheck(req, []byte(body), status, http.Header{"Content-Type": {"application/json"}}, []byte(resBody))
	}
	signupBody := `{"email":"a@example.com","password":"a long passphrase","display_name":"A","age":20}`
	if errs := check("POST", "/api/auth/signup/", signupBody, 201, `{"message":"ok","code":"signup.check_email"}`); len(errs) != 0 {
		t.Errorf("a signup with the declared fields: got %v, want no error", errs)
	}
	if errs := check("POST", "/api/auth/signup/", `{"email":"a@example.com","password":"a long passphrase","display_name":"A","colour":"red"}`, 201, `{"message":"ok","code":"signup.check_email"}`); len(errs) == 0 {
		t.Error("a signup with an undeclared member passed the env's document")
	}
	if errs := check("GET", "/api/auth/me/", "", 200, `{"user":`+strings.Replace(user, "%s", "20", 1)+`}`); len(errs) != 0 {
		t.Errorf("a /me/ with the declared profile: got %v, want no error", errs)
	}
	if errs := check("GET", "/api/auth/me/", "", 200, `{"user":`+strings.Replace(user, "%s", `"twenty"`, 1)+`}`); len(errs) == 0 {
		t.Error("a /me/ whose age is a string passed the env's document")
	}
	base, err := openapiLoad()
	if err != nil {
		t.Fatal(err)
	}
	if base.doc.Components.Schemas["SignupRequest"].Value.Properties["display_name"] != nil {
		t.Error("handlers/openapi.json has the env's field")
	}
}

// TestProfileConfig: New refuses a field that could not work.
func TestProfileConfig(t *testing.T) {
	valid := func(context.Context, any) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		fields []authsys.ProfileField
		field  string
	}{
		{"empty name", []authsys.ProfileField{{Name: ""}}, "Profile.Fields[0].Name"},
		{"name with a dash", []authsys.ProfileField{{Name: "display-name"}}, "Profile.Fields[0].Name"},
		{"name starting with a digit", []authsys.ProfileField{{Name: "1st"}}, "Profile.Fields[0].Name"},
		{"name too long", []authsys.ProfileField{{Name: strings.Repeat("n", 65)}}, "Profile.Fields[0].Name"},
		{"email", []authsys.ProfileField{{Name: "Email"}}, "Profile.Fields[0].Name"},
		{"password", []authsys.ProfileField{{Name: "password"}}, "Profile.Fields[0].Name"},
		{"twice, other case", []authsys.ProfileField{{Name: "nick"}, {Name: "Nick"}}, "Profile.Fields[1].Name"},
		{"schema not JSON", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"type":`)}}, "Profile.Fields[0].Schema"},
		{"schema not an object", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`"string"`)}}, "Profile.Fields[0].Schema"},
		{"schema null", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`null`)}}, "Profile.Fields[0].Schema"},
		{"not a string without Validate", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"type":"integer"}`)}}, "Profile.Fields[0].Validate"},
		{"no type without Validate", []authsys.ProfileField{{Name: "a", Schema: json.RawMessage(`{"description":"x"}`)}}, "Profile.Fields[0].Validate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coreValidConfig()
			cfg.Profile.Fields = tc.fields
			_, err := authsys.New(cfg)
			var ce *authsys.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("got error %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
	cfg := coreValidConfig()
	cfg.Profile.Fields = []authsys.ProfileField{
		{Name: "_private_1", Private: true},
		{Name: "n", Schema: json.RawMessage(`{"type":"integer"}`), Validate: valid},
		{Name: "s", Schema: json.RawMessage(`{"type":"string","maxLength":3}`)},
	}
	if _, err := authsys.New(cfg); err != nil {
		t.Fatalf("valid fields: got error %v", err)
	}
}

// TestProfileSignupRace: racing signups of one address, each with its own
// profile values and password, leave one account whose declared fields
// all come from one of the requests (a contested signup replaces them
// together, in one UpdateUser), never a mix; the private value never
// shows in any answer.
func TestProfileSignupRace(t *testing.T) {
	e, spy := coreSpyEnv(t, false, profileFields)
	const n = 16
	spy.barrier.Store(newBarrier(n)) // every CreateUser at once
	defer spy.barrier.Store(nil)
	rs := coreParallel(n, func(i int) response {
		return e.client().post("/signup/", map[string]any{
			"email": "race@example.com", "password": fmt.Sprintf("signup passphrase %02d", i%3),
			"display_name": fmt.Sprintf("racer %02d", i), "referral": fmt.Sprintf("ref-%02d", i), "age": 20 + i,
		})
	})
	for i, r := range rs {
		expect(t, r, http.StatusCreated, "")
		coreSameAnswer(t, fmt.Sprintf("signup %d vs 0", i), r, rs[0])
	}
	if err := e.auth.Shutdown(t.Context()); err != nil { // the contested signups' updates
		t.Fatal(err)
	}
	p := coreUser(e, "race@example.com").Profile
	name, _ := p["display_name"].(string)
	var i int
	if _, err := fmt.Sscanf(name, "racer %d", &i); err != nil {
		t.Fatalf("got display_name %q, want one of the racers'", name)
	}
	if p["referral"] != fmt.Sprintf("ref-%02d", i) || p["age"] != float64(20+i) {
		t.Errorf("got profile %v, want every field of racer %02d", p, i)
	}
}

// TestProfileNULRefused: a value holding U+0000 that a field's validator
// lets through (PostgreSQL's jsonb cannot store it) is refused as
// invalid_value on its field, at any depth, and nothing is stored.
func TestProfileNULRefused(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.Profile.Fields = []authsys.ProfileField{{
			Name:     "tags",
			Schema:   json.RawMessage(`{}`),
			Validate: func(_ context.Context, v any) (any, error) { return v, nil },
		}}
	})
	for _, v := range []any{"a\x00b", []any{"x", map[string]any{"k": "\x00"}}, map[string]any{"a\x00": 1}} {
		r := e.client().post("/signup/", map[string]any{"email": "nul@example.com", "password": goodPassword, "tags": v})
		expect(t, r, http.StatusBadRequest, "validation_failed")
		if errs, _ := r.json(t)["errors"].(map[string]any); errs["tags"] == nil {
			t.Errorf("%q: got %s, want an error on tags", v, r.body)
		}
	}
	if _, err := e.store.UserByEmail(t.Context(), "nul@example.com"); err == nil {
		t.Error("a refused signup stored the account")
	}
	expect(t, e.client().post("/signup/", map[string]any{"email": "nul@example.com", "password": goodPassword, "tags": []any{"fine"}}), http.StatusCreated, "")
}

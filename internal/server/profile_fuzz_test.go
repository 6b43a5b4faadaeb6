package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// FuzzSignupProfile posts arbitrary bodies to /signup/ with declared
// profile fields: an optional text field with the default check and a
// required, private number checked by its Validate. Every answer is below
// 500 with a known code; a created account's profile holds only declared
// fields with values of their kind, and a refused signup creates nothing.
func FuzzSignupProfile(f *testing.F) {
	for _, b := range []string{
		`{"email":"new@example.com","password":"another long password 1","code":7}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"display_name":"Ann"}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"display_name":null}`,
		`{"EMAIL":"new@example.com","Password":"another long password 1","code":7}`,
		`{"email":"new@example.com","password":"another long password 1","code":"7"}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"Code":8}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"display_name":"a\u0000b"}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"display_name":{"x":[1]}}`,
		`{"email":"new@example.com","password":"another long password 1","code":7,"code":"x"}`,
		`{"code":7}`, `{}`, `null`, `[]`, `{"email":"new@example.com"} {}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, outbox := memory.New(), &mail.Outbox{}
		d := fuzzDeps(t, st, outbox)
		d.Profile = Profile{Fields: []ProfileField{
			{Name: "display_name"},
			{Name: "code", Required: true, Private: true, Validate: func(_ context.Context, v any) (any, error) {
				if n, ok := v.(float64); ok {
					return n, nil
				}
				return nil, &handlers.FieldError{Code: "not_a_number"}
			}},
		}}
		h := New(d)
		defer h.Shutdown(context.Background()) //nolint:errcheck // waits for the mails
		req := httptest.NewRequest(http.MethodPost, "/signup/", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		what := "POST /signup/ " + strings.ToValidUTF8(string(body[:min(len(body), 200)]), "?")
		checkAnswer(t, what, rec)
		users, err := st.ListUsers(context.Background(), "", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusCreated {
			if len(users) != 0 {
				t.Fatalf("%s: refused with %d %s, but created %v", what, rec.Code, rec.Body, users)
			}
			return
		}
		if len(users) != 1 {
			t.Fatalf("%s: created %d users, want 1", what, len(users))
		}
		for k, v := range users[0].Profile {
			switch k {
			case "display_name":
				if s, ok := v.(string); !ok || strings.ContainsFunc(s, notText) {
					t.Fatalf("%s: stored display_name %#v, want text", what, v)
				}
			case "code":
				if _, ok := v.(float64); !ok {
					t.Fatalf("%s: stored code %#v, want a number", what, v)
				}
			default:
				t.Fatalf("%s: stored undeclared field %q", what, k)
			}
		}
		if _, ok := users[0].Profile["code"]; !ok {
			t.Fatalf("%s: created without the required code", what)
		}
	})
}

package authsys_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocumentValid loads handlers/openapi.json with kin-openapi and
// validates it as an OpenAPI 3.1 document, with every example and default
// checked against its schema.
func TestOpenAPIDocumentValid(t *testing.T) {
	spec, err := openapiLoad()
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.doc.OpenAPI; got != "3.1.0" {
		t.Fatalf("got openapi %q, want 3.1.0", got)
	}
	if err := spec.doc.Validate(context.Background(), openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation()); err != nil {
		t.Fatalf("strict validation: %v", err)
	}
}

// TestOpenAPIValidatorCatchesDrift feeds the validation layer calls that
// break the document in each way a handler could drift, and calls that
// keep to it: every drift must be reported, every good call pass. It is
// what makes the validation of the whole suite able to fail.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	const (
		user     = `{"id":"u1","email":"a@example.com","is_active":true,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z"}`
		problemJ = "application/problem+json"
		jsonCT   = "application/json"
	)
	prob := func(status int, code string) string {
		return `{"type":"about:blank","title":"` + http.StatusText(status) + `","status":` + strconv.Itoa(status) + `,"code":"` + code + `","detail":"x"}`
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name    string
		method  string
		path    string
		reqBody string
		reqHdr  http.Header
		status  int
		header  http.Header
		body    string
		wantErr string // "" for a call that keeps to the document
	}{
		{"me ok", "GET", "/api/auth/me/", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"user":` + user + `}`, ""},
		{"me without trailing slash", "GET", "/api/auth/me", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"user":` + user + `}`, ""},
		{"me with bearer", "GET", "/api/auth/me/", "", hdr("Authorization", "Bearer x"), 200, hdr("Content-Type", jsonCT), `{"user":` + user + `}`, ""},
		{"me extra member", "GET", "/api/auth/me/", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"user":` + strings.TrimSuffix(user, "}") + `,"password_hash":"h"}}`, "response"},
		{"me missing member", "GET", "/api/auth/me/", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"user":{"id":"u1"}}`, "response"},
		{"me bad date", "GET", "/api/auth/me/", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"user":` + strings.Replace(user, "2026-03-01T12:00:00Z", "yesterday", 1) + `}`, "response"},
		{"2xx without credentials", "GET", "/api/auth/me/", "", nil, 200, hdr("Content-Type", jsonCT), `{"user":` + user + `}`, "request"},
		{"me 401 documented code", "GET", "/api/auth/me/", "", nil, 401, hdr("Content-Type", problemJ), prob(401, "not_authenticated"), ""},
		{"me 401 wrong code", "GET", "/api/auth/me/", "", nil, 401, hdr("Content-Type", problemJ), prob(401, "invalid_credentials"), "response"},
		{"unknown code", "GET", "/api/auth/me/", "", nil, 401, hdr("Content-Type", problemJ), prob(401, "no_such_code"), "response"},
		{"undocumented status", "GET", "/api/auth/me/", "", nil, 418, hdr("Content-Type", problemJ), prob(418, "conflict"), "status is not supported"},
		{"problem as JSON", "GET", "/api/auth/me/", "", nil, 401, hdr("Content-Type", jsonCT), prob(401, "not_authenticated"), "response"},
		{"429 with Retry-After", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 429, hdr("Content-Type", problemJ, "Retry-After", "60"), prob(429, "throttled"), ""},
		{"429 without Retry-After", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 429, hdr("Content-Type", problemJ), prob(429, "throttled"), "Retry-After"},
		{"503 without Retry-After", "GET", "/api/auth/me/", "", nil, 503, hdr("Content-Type", problemJ), prob(503, "service_unavailable"), "Retry-After"},
		{"login 2fa", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc"}`, ""},
		{"login 2fa with user", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc","user":` + user + `}`, "response"},
		{"login unknown request member", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p","remember":true}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc"}`, "request"},
		{"malformed request refused", "POST", "/api/auth/login/", `{"email":`, hdr("Content-Type", jsonCT), 400, hdr("Content-Type", problemJ), prob(400, "invalid_json"), ""},
		{"refresh without Set-Cookie", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT), `{"message":"ok"}`, "Set-Cookie"},
		{"refresh with Set-Cookie", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok"}`, ""},
		{"backup codes wrong shape", "POST", "/api/auth/2fa/backup-codes/", `{"code":"123456"}`, hdr("Content-Type", jsonCT, "Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"backup_codes":["ABC"]}`, "response"},
		{"undocumented path answered 404", "GET", "/api/auth/nope/", "", nil, 404, hdr("Content-Type", problemJ), prob(404, "not_found"), ""},
		{"undocumented path answered 200", "GET", "/api/auth/nope/", "", nil, 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"undocumented method answered 405", "DELETE", "/api/auth/me/", "", nil, 405, hdr("Content-Type", problemJ, "Allow", "GET"), prob(405, "method_not_allowed"), ""},
		{"undocumented method without Allow", "DELETE", "/api/auth/me/", "", nil, 405, hdr("Content-Type", problemJ), prob(405, "method_not_allowed"), "Allow"},
		{"undocumented method answered 200", "PUT", "/api/auth/me/", "", nil, 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"admin path under the auth mount", "GET", "/api/auth/users/", "", nil, 200, hdr("Content-Type", jsonCT), `{"users":[],"next_cursor":null}`, "undocumented"},
		{"admin list", "GET", "/api/admin/auth/users/?limit=10", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"users":[],"next_cursor":null}`, ""},
		{"admin list bad limit accepted", "GET", "/api/admin/auth/users/?limit=1000", "", hdr("Cookie", "access_token=x"), 200, hdr("Content-Type", jsonCT), `{"users":[],"next_cursor":null}`, "request"},
		{"not an API path", "GET", "/api/private", "", nil, 200, hdr("Content-Type", "text/plain"), "a@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1:1"+tt.path, strings.NewReader(tt.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.reqHdr {
				req.Header[k] = vs
			}
			errs := openapiCheck(req, []byte(tt.reqBody), tt.status, tt.header, []byte(tt.body))
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			got := strings.Join(msgs, "\n")
			switch {
			case tt.wantErr == "" && len(errs) > 0:
				t.Fatalf("got errors for a call that keeps to the document:\n%s", got)
			case tt.wantErr != "" && !strings.Contains(got, tt.wantErr):
				t.Fatalf("got errors %q, want one mentioning %q", got, tt.wantErr)
			}
		})
	}
}

package authsys_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
)

// openapiJSON is handlers/openapi.json decoded as plain JSON.
func openapiJSON(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(authsys.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("handlers/openapi.json: %v", err)
	}
	return doc
}

// openapiAt follows a path of object members; nil when one is missing.
func openapiAt(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// openapiResolve follows a local $ref, if v is one.
func openapiResolve(doc map[string]any, v any) any {
	ref, ok := openapiAt(v, "$ref").(string)
	if !ok {
		return v
	}
	return openapiAt(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
}

// openapiStrings converts a JSON array of strings.
func openapiStrings(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// openapiCodes returns the problem codes a response documents: those of
// its code enum, or every code for the plain Problem schema.
func openapiCodes(doc map[string]any, resp any) []string {
	schema := openapiAt(openapiResolve(doc, resp), "content", "application/problem+json", "schema")
	parts, _ := openapiAt(schema, "allOf").([]any)
	for _, part := range parts {
		if enum := openapiAt(part, "properties", "code", "enum"); enum != nil {
			return openapiStrings(enum)
		}
	}
	return nil
}

// TestOpenAPIProblemCodes checks the document's ProblemCode enum is exactly
// authsys.ProblemCodes, and that every code a response lists is a known
// code with the status the handlers give it.
func TestOpenAPIProblemCodes(t *testing.T) {
	doc := openapiJSON(t)
	got := openapiStrings(openapiAt(doc, "components", "schemas", "ProblemCode", "enum"))
	slices.Sort(got)
	want := slices.Sorted(slices.Values(authsys.ProblemCodes))
	if !slices.Equal(got, want) {
		t.Fatalf("components.schemas.ProblemCode enum:\ngot  %q\nwant %q (authsys.ProblemCodes)", got, want)
	}
	// Codes that only ever come with one status.
	statusOf := map[string]string{
		"invalid_json": "400", "validation_failed": "400", "unsupported_media_type": "415",
		"request_too_large": "413", "csrf_failed": "403", "not_authenticated": "401",
		"invalid_credentials": "401", "throttled": "429", "service_unavailable": "503",
		"internal_error": "500", "forbidden": "403", "not_implemented": "501",
		"session_expired": "401", "token_reused": "401", "invalid_code": "400",
		"invalid_password": "400",
	}
	type docResponse struct {
		where, status string
		resp          any
	}
	var all []docResponse
	for path, item := range openapiAt(doc, "paths").(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !slices.Contains(openapiDocMethods, method) {
				continue
			}
			for status, resp := range openapiAt(op, "responses").(map[string]any) {
				all = append(all, docResponse{strings.ToUpper(method) + " " + path, status, resp})
			}
		}
	}
	for _, r := range all {
		where, status, resp := r.where, r.status, r.resp
		if status[0] != '4' && status[0] != '5' {
			continue
		}
		codes := openapiCodes(doc, resp)
		if len(codes) == 0 {
			t.Errorf("%s %s: lists no problem codes", where, status)
		}
		for _, c := range codes {
			if !slices.Contains(authsys.ProblemCodes, c) {
				t.Errorf("%s %s: unknown code %q", where, status, c)
			}
			if s, ok := statusOf[c]; ok && s != status {
				t.Errorf("%s %s: code %q comes with status %s", where, status, c, s)
			}
		}
	}
}

// TestOpenAPIOperationRules checks the rules every operation of the
// document keeps: a unique operationId; JSON request bodies closed to
// unknown members, with 400 invalid_json, 413 and 415 documented; 403
// csrf_failed on every POST; 401 on every operation that needs a token;
// Retry-After on every 429 and 503; 500 and 503 wherever a store is used.
func TestOpenAPIOperationRules(t *testing.T) {
	doc := openapiJSON(t)
	ids := map[string]string{}
	for path, item := range openapiAt(doc, "paths").(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !slices.Contains(openapiDocMethods, method) {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			t.Run(where, func(t *testing.T) {
				id, _ := openapiAt(op, "operationId").(string)
				if id == "" || ids[id] != "" {
					t.Errorf("operationId %q is empty or also used by %s", id, ids[id])
				}
				ids[id] = where
				if s, _ := openapiAt(op, "summary").(string); s == "" {
					t.Error("no summary")
				}
				resps := openapiAt(op, "responses").(map[string]any)
				has := func(status string, code string) bool {
					r, ok := resps[status]
					return ok && (code == "" || slices.Contains(openapiCodes(doc, r), code))
				}
				// The two static documents touch no store and take no input.
				if path == "/openapi.json" || path == "/jwks.json" {
					return
				}
				if body := openapiAt(op, "requestBody"); body != nil {
					schema := openapiResolve(doc, openapiAt(body, "content", "application/json", "schema"))
					if schema == nil {
						t.Fatal("requestBody without an application/json schema")
					}
					if ap, ok := openapiAt(schema, "additionalProperties").(bool); !ok || ap {
						t.Error("request body schema allows unknown members; want additionalProperties false")
					}
					for _, want := range []struct{ status, code string }{{"400", "invalid_json"}, {"413", "request_too_large"}, {"415", "unsupported_media_type"}} {
						if !has(want.status, want.code) {
							t.Errorf("has a body but documents no %s %s", want.status, want.code)
						}
					}
				}
				if method == "post" && !has("403", "csrf_failed") {
					t.Error("POST without 403 csrf_failed")
				}
				if sec, _ := openapiAt(op, "security").([]any); len(sec) > 0 && !has("401", "") {
					t.Error("needs a token but documents no 401")
				}
				for _, status := range []string{"429", "503"} {
					if r, ok := resps[status]; ok {
						h := openapiResolve(doc, openapiAt(openapiResolve(doc, r), "headers", "Retry-After"))
						if req, _ := openapiAt(h, "required").(bool); !req {
							t.Errorf("%s without a required Retry-After header", status)
						}
					}
				}
				if !has("500", "internal_error") || !has("503", "service_unavailable") {
					t.Error("no 500 internal_error or 503 service_unavailable")
				}
			})
		}
	}
}

// TestOpenAPISecuritySchemes checks the cookie schemes name the default
// cookies and that CSRF protection is described.
func TestOpenAPISecuritySchemes(t *testing.T) {
	doc := openapiJSON(t)
	for scheme, cookie := range map[string]string{"accessCookie": "access_token", "refreshCookie": "refresh_token"} {
		s := openapiAt(doc, "components", "securitySchemes", scheme)
		if openapiAt(s, "type") != "apiKey" || openapiAt(s, "in") != "cookie" || openapiAt(s, "name") != cookie {
			t.Errorf("securitySchemes.%s: got %v, want apiKey in cookie %s", scheme, s, cookie)
		}
	}
	desc, _ := openapiAt(doc, "info", "description").(string)
	for _, want := range []string{"CrossOriginProtection", "csrf_failed", "Sec-Fetch-Site", "TrustedOrigins"} {
		if !strings.Contains(desc, want) {
			t.Errorf("info.description does not mention %s", want)
		}
	}
}

// TestOpenAPILiteCatchesDrift feeds the dependency-free check calls that
// break the document and calls that keep to it.
func TestOpenAPILiteCatchesDrift(t *testing.T) {
	const problemJ, jsonCT = "application/problem+json", "application/json"
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	prob := func(code string) string { return `{"code":"` + code + `"}` }
	tests := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string
	}{
		{"me ok", "GET", "/api/auth/me/", 200, hdr("Content-Type", jsonCT), `{}`, ""},
		{"me without slash", "GET", "/api/auth/me", 200, hdr("Content-Type", jsonCT), `{}`, ""},
		{"me as text", "GET", "/api/auth/me/", 200, hdr("Content-Type", "text/plain"), `x`, "Content-Type"},
		{"undocumented status", "GET", "/api/auth/me/", 204, hdr(), ``, "not documented"},
		{"documented code", "POST", "/api/auth/login/", 401, hdr("Content-Type", problemJ), prob("invalid_credentials"), ""},
		{"undocumented code", "POST", "/api/auth/login/", 401, hdr("Content-Type", problemJ), prob("not_authenticated"), "problem code"},
		{"429 without Retry-After", "POST", "/api/auth/login/", 429, hdr("Content-Type", problemJ), prob("throttled"), "Retry-After"},
		{"429 with Retry-After", "POST", "/api/auth/login/", 429, hdr("Content-Type", problemJ, "Retry-After", "3"), prob("throttled"), ""},
		{"refresh without Set-Cookie", "POST", "/api/auth/refresh/", 200, hdr("Content-Type", jsonCT), `{}`, "Set-Cookie"},
		{"admin path param", "GET", "/api/admin/auth/users/abc/", 404, hdr("Content-Type", problemJ), prob("not_found"), ""},
		{"admin action", "POST", "/api/admin/auth/users/abc/activate", 409, hdr("Content-Type", problemJ), prob("conflict"), "not documented"},
		{"unknown path 404", "GET", "/api/auth/nope/", 404, hdr("Content-Type", problemJ), prob("not_found"), ""},
		{"unknown path 200", "GET", "/api/auth/nope/", 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"unknown method 405", "PUT", "/api/auth/me/", 405, hdr("Content-Type", problemJ), prob("method_not_allowed"), ""},
		{"unknown method 401", "PUT", "/api/auth/me/", 401, hdr("Content-Type", problemJ), prob("not_authenticated"), "undocumented"},
		{"empty id segment", "GET", "/api/admin/auth/users//", 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"not the API", "GET", "/api/private", 500, hdr(), ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []string
			for _, err := range openapiLiteErrors(tt.method, tt.path, tt.status, tt.header, []byte(tt.body)) {
				msgs = append(msgs, err.Error())
			}
			got := strings.Join(msgs, "\n")
			switch {
			case tt.wantErr == "" && got != "":
				t.Fatalf("got errors for a call that keeps to the document:\n%s", got)
			case tt.wantErr != "" && !strings.Contains(got, tt.wantErr):
				t.Fatalf("got errors %q, want one mentioning %q", got, tt.wantErr)
			}
		})
	}
}

package authsys_test

// The OpenAPI document: its content, its routes, and the validation of every
// call the suite makes against it.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/server"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// openapiJSON is handlers/openapi.json decoded as plain JSON.
func openapiJSON(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(handlers.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("handlers/openapi.json: %v", err)
	}
	return doc
}

// openapiDocFor returns the OpenAPI document the server at u serves: the
// document of the env's Auth, which has its profile fields, or
// handlers/openapi.json for a URL no live env serves.
func openapiDocFor(u *url.URL) []byte {
	if e, err := harnessEnvAt(u.Scheme + "://" + u.Host); err == nil {
		return e.auth.OpenAPIDocument()
	}
	return handlers.OpenAPIDocument()
}

// openapiCache loads each distinct document once, for both validators:
// the key is the document's SHA-256 and the loader's name, the value a
// sync.OnceValues function.
var openapiCache sync.Map

func openapiCached[T any](loader string, doc []byte, load func([]byte) (T, error)) (T, error) {
	sum := sha256.Sum256(doc)
	f, _ := openapiCache.LoadOrStore(loader+string(sum[:]), sync.OnceValues(func() (T, error) { return load(doc) }))
	return f.(func() (T, error))()
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

// openapiMessageCodes returns the success codes a response documents: the
// code enum of its application/json Message schema; nil for none.
func openapiMessageCodes(doc map[string]any, resp any) []string {
	schema := openapiAt(openapiResolve(doc, resp), "content", "application/json", "schema")
	parts, _ := openapiAt(schema, "allOf").([]any)
	for _, part := range parts {
		if enum := openapiAt(part, "properties", "code", "enum"); enum != nil {
			return openapiStrings(enum)
		}
	}
	return nil
}

// TestOpenAPISuccessCodes checks that every success answer the document
// describes with the Message schema lists the codes it may carry, and
// that each is a key of the message catalog. (internal/server's
// TestCatalogKeys checks they are exactly the codes the handlers send.)
func TestOpenAPISuccessCodes(t *testing.T) {
	doc := openapiJSON(t)
	catalog := authsys.DefaultMessages()
	n := 0
	for path, item := range openapiAt(doc, "paths").(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !slices.Contains(openapiDocMethods, method) {
				continue
			}
			for status, resp := range openapiAt(op, "responses").(map[string]any) {
				schema := openapiAt(openapiResolve(doc, resp), "content", "application/json", "schema")
				raw, _ := json.Marshal(schema)
				if !strings.Contains(string(raw), `"#/components/schemas/Message"`) {
					continue
				}
				n++
				codes := openapiMessageCodes(doc, resp)
				if len(codes) == 0 {
					t.Errorf("%s %s %s: a Message answer without a code enum", strings.ToUpper(method), path, status)
				}
				for _, c := range codes {
					if _, ok := catalog[c]; !ok {
						t.Errorf("%s %s %s: code %q is not a message key", strings.ToUpper(method), path, status, c)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no response uses the Message schema")
	}
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
				// An empty requirement ({}) makes the token optional.
				sec, _ := openapiAt(op, "security").([]any)
				optional := slices.ContainsFunc(sec, func(s any) bool { m, _ := s.(map[string]any); return len(m) == 0 })
				if len(sec) > 0 && !optional && !has("401", "") {
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
		tokenMode          bool
		status             int
		header             http.Header
		body               string
		wantErr            string
	}{
		{"me ok", "GET", "/api/auth/me/", false, 200, hdr("Content-Type", jsonCT), `{}`, ""},
		{"me without slash", "GET", "/api/auth/me", false, 200, hdr("Content-Type", jsonCT), `{}`, ""},
		{"me as text", "GET", "/api/auth/me/", false, 200, hdr("Content-Type", "text/plain"), `x`, "Content-Type"},
		{"undocumented status", "GET", "/api/auth/me/", false, 204, hdr(), ``, "not documented"},
		{"documented code", "POST", "/api/auth/login/", false, 401, hdr("Content-Type", problemJ), prob("invalid_credentials"), ""},
		{"undocumented code", "POST", "/api/auth/login/", false, 401, hdr("Content-Type", problemJ), prob("not_authenticated"), "problem code"},
		{"429 without Retry-After", "POST", "/api/auth/login/", false, 429, hdr("Content-Type", problemJ), prob("throttled"), "Retry-After"},
		{"429 with Retry-After", "POST", "/api/auth/login/", false, 429, hdr("Content-Type", problemJ, "Retry-After", "3"), prob("throttled"), ""},
		{"refresh without Set-Cookie", "POST", "/api/auth/refresh/", false, 200, hdr("Content-Type", jsonCT), `{}`, "Set-Cookie"},
		{"refresh in token mode", "POST", "/api/auth/refresh/", true, 200, hdr("Content-Type", jsonCT), `{"message":"x","code":"refresh.done"}`, ""},
		{"cleared cookies missing", "POST", "/api/auth/logout/", false, 200, hdr("Content-Type", jsonCT), `{}`, "Set-Cookie"},
		{"logout in token mode", "POST", "/api/auth/logout/", true, 200, hdr("Content-Type", jsonCT), `{"message":"x","code":"logout.done"}`, ""},
		{"documented success code", "POST", "/api/auth/logout/", false, 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token="), `{"message":"x","code":"logout.done"}`, ""},
		{"another endpoint's success code", "POST", "/api/auth/logout/", false, 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token="), `{"message":"x","code":"logout.all"}`, "success code"},
		{"admin path param", "GET", "/api/admin/auth/users/abc/", false, 404, hdr("Content-Type", problemJ), prob("not_found"), ""},
		{"admin action", "POST", "/api/admin/auth/users/abc/activate", false, 409, hdr("Content-Type", problemJ), prob("conflict"), "not documented"},
		{"unknown path 404", "GET", "/api/auth/nope/", false, 404, hdr("Content-Type", problemJ), prob("not_found"), ""},
		{"unknown path 200", "GET", "/api/auth/nope/", false, 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"unknown method 405", "PUT", "/api/auth/me/", false, 405, hdr("Content-Type", problemJ), prob("method_not_allowed"), ""},
		{"unknown method 401", "PUT", "/api/auth/me/", false, 401, hdr("Content-Type", problemJ), prob("not_authenticated"), "undocumented"},
		{"empty id segment", "GET", "/api/admin/auth/users//", false, 200, hdr("Content-Type", jsonCT), `{}`, "undocumented"},
		{"not the API", "GET", "/api/private", false, 500, hdr(), ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []string
			for _, err := range openapiLiteErrors(tt.method, tt.path, tt.tokenMode, tt.status, tt.header, []byte(tt.body)) {
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

// openapiDocMethods are the operations an OpenAPI path item may hold that
// the handlers could serve.
var openapiDocMethods = []string{"get", "put", "post", "delete", "patch"}

// openapiRoute is one documented or served operation: the mount of its API,
// its path (trailing-slash form) and its method.
type openapiRoute struct{ mount, path, method string }

func (r openapiRoute) String() string { return r.method + " " + r.mount + r.path }

// openapiDocRoutes reads the operations of handlers/openapi.json with
// encoding/json: a path item's own servers choose its mount, else the
// document's.
func openapiDocRoutes(t *testing.T) []openapiRoute {
	t.Helper()
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(handlers.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("handlers/openapi.json: %v", err)
	}
	if len(doc.Servers) != 1 {
		t.Fatalf("got %d document servers, want 1 (the auth mount)", len(doc.Servers))
	}
	var out []openapiRoute
	for path, item := range doc.Paths {
		mount := doc.Servers[0].URL
		if raw, ok := item["servers"]; ok {
			var ss []struct{ URL string }
			if err := json.Unmarshal(raw, &ss); err != nil || len(ss) != 1 {
				t.Fatalf("path %s: servers %s, want exactly one", path, raw)
			}
			mount = ss[0].URL
		}
		for m := range item {
			if slices.Contains(openapiDocMethods, m) {
				out = append(out, openapiRoute{mount, path, strings.ToUpper(m)})
			}
		}
	}
	return out
}

// openapiServedRoutes lists what the handlers register (handlers.Routes).
func openapiServedRoutes() []openapiRoute {
	api, admin := authsys.Routes()
	var out []openapiRoute
	for mount, rs := range map[string][]server.Route{"/api/auth": api, "/api/admin/auth": admin} {
		for _, r := range rs {
			for _, m := range r.Methods {
				out = append(out, openapiRoute{mount, r.Path, m})
			}
		}
	}
	return out
}

// TestOpenAPICoversEveryRoute proves the document and the muxes agree: every
// route the handlers register is documented (so adding a route without
// documenting it fails here) and every documented operation is registered.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc, served := openapiDocRoutes(t), openapiServedRoutes()
	if len(served) < 20 {
		t.Fatalf("authsys.Routes() lists %d operations; the API has more (is registration bypassing handle?)", len(served))
	}
	has := func(rs []openapiRoute, r openapiRoute) bool { return slices.Contains(rs, r) }
	for _, r := range served {
		if !has(doc, r) {
			t.Errorf("served but not documented in handlers/openapi.json: %s", r)
		}
	}
	for _, r := range doc {
		if !has(served, r) {
			t.Errorf("documented in handlers/openapi.json but not served: %s", r)
		}
	}
}

// TestOpenAPIRoutesAnswer probes the running API: every documented
// operation answers (neither 404 nor 405), with and without its trailing
// slash alike; every method a documented path does not list gets 405 with
// an Allow header naming exactly the documented methods; an undocumented
// path gets 404. Requests carry no credentials and no body, so nothing
// changes.
func TestOpenAPIRoutesAnswer(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	byPath := map[string][]string{}
	for _, r := range openapiDocRoutes(t) {
		key := r.mount + r.path
		byPath[key] = append(byPath[key], r.method)
	}
	for key, methods := range byPath {
		url := strings.ReplaceAll(key, "{id}", "no-such-user")
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			t.Run(m+" "+key, func(t *testing.T) {
				r := c.do(m, url, nil)
				if !slices.Contains(methods, m) {
					expect(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
					allow := strings.Split(r.Header.Get("Allow"), ", ")
					slices.Sort(allow)
					want := slices.Sorted(slices.Values(methods))
					if !slices.Equal(allow, want) {
						t.Fatalf("got Allow %q, want %q", allow, want)
					}
					return
				}
				if r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusMethodNotAllowed {
					t.Fatalf("documented operation answered %d: %s", r.StatusCode, r.body)
				}
				if trimmed := strings.TrimSuffix(url, "/"); trimmed != url {
					if r2 := c.do(m, trimmed, nil); r2.StatusCode != r.StatusCode || r2.code() != r.code() {
						t.Fatalf("without the trailing slash: got %d %q, want %d %q like %s", r2.StatusCode, r2.code(), r.StatusCode, r.code(), url)
					}
				}
			})
		}
	}
	for _, path := range []string{"/api/auth/no-such-endpoint/", "/api/auth/users/", "/api/admin/auth/me/", "/api/admin/auth/users/x/y/z/"} {
		t.Run("GET "+path, func(t *testing.T) {
			expect(t, c.do(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
		})
	}
}

// TestOpenAPIServed checks GET /openapi.json serves the embedded document
// as JSON, with and without credentials.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.client().get("/openapi.json")
	expect(t, r, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("got Content-Type %q, want application/json", ct)
	}
	if string(r.body) != string(e.auth.OpenAPIDocument()) {
		t.Fatalf("got %d bytes, want the %d bytes of Auth.OpenAPIDocument()", len(r.body), len(e.auth.OpenAPIDocument()))
	}
	// Without profile fields, it is handlers/openapi.json as it is.
	if string(r.body) != string(handlers.OpenAPIDocument()) {
		t.Fatalf("got %d bytes, want the %d bytes of handlers/openapi.json", len(r.body), len(handlers.OpenAPIDocument()))
	}
	if got := fmt.Sprint(r.json(t)["openapi"]); got != "3.1.0" {
		t.Fatalf("got openapi %q, want 3.1.0", got)
	}
}

// A dependency-free check of every call sent through harnessSend
// (main_test.go) against handlers/openapi.json, read with encoding/json:
// the call must reach a documented operation (else it must get 404
// not_found or 405 method_not_allowed), its status must be one the
// operation lists, its Content-Type one the response lists, a problem's
// code one the response enumerates, and the response's required headers
// (Retry-After, Set-Cookie) present. It always runs; the full schema
// validation with kin-openapi (openapi_test.go) adds the bodies,
// parameters and request checks.

// openapiLiteOp is one documented operation.
type openapiLiteOp struct {
	mount, path, method string
	responses           map[string]any
}

type openapiLiteDoc struct {
	doc map[string]any
	ops []openapiLiteOp
}

// openapiLiteLoad reads the document raw once.
func openapiLiteLoad(raw []byte) (*openapiLiteDoc, error) {
	return openapiCached("lite", raw, openapiLiteRead)
}

func openapiLiteRead(raw []byte) (*openapiLiteDoc, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("handlers/openapi.json: %w", err)
	}
	d := &openapiLiteDoc{doc: doc}
	root, _ := openapiAt(doc, "servers").([]any)
	if len(root) != 1 {
		return nil, fmt.Errorf("handlers/openapi.json: got %d servers, want 1", len(root))
	}
	paths, _ := openapiAt(doc, "paths").(map[string]any)
	for path, item := range paths {
		mount, _ := openapiAt(root[0], "url").(string)
		if ss, ok := openapiAt(item, "servers").([]any); ok && len(ss) > 0 {
			mount, _ = openapiAt(ss[0], "url").(string)
		}
		for _, m := range openapiDocMethods {
			if op := openapiAt(item, m); op != nil {
				resps, _ := openapiAt(op, "responses").(map[string]any)
				d.ops = append(d.ops, openapiLiteOp{mount, path, strings.ToUpper(m), resps})
			}
		}
	}
	return d, nil
}

// matches reports whether the request path (under the mounts) is the
// operation's path, a {param} matching one segment, with or without the
// trailing slash.
func (op openapiLiteOp) matches(path string) bool {
	rest, ok := strings.CutPrefix(path, op.mount)
	if !ok {
		return false
	}
	if !strings.HasSuffix(rest, "/") && strings.HasSuffix(op.path, "/") {
		rest += "/"
	}
	got, want := strings.Split(rest, "/"), strings.Split(op.path, "/")
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if strings.HasPrefix(want[i], "{") {
			if got[i] == "" {
				return false
			}
		} else if got[i] != want[i] {
			return false
		}
	}
	return true
}

// openapiLiteCheck reports through t what is wrong with one call.
func openapiLiteCheck(t *testing.T, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	for _, err := range openapiLiteErrorsIn(openapiDocFor(req.URL), req.Method, req.URL.Path, openapiTokenMode(req), res.StatusCode, res.Header, body) {
		t.Errorf("OpenAPI: %s %s → %d: %v\nresponse body: %.1500s", req.Method, req.URL.RequestURI(), res.StatusCode, err, body)
	}
}

// openapiLiteErrors checks a call against handlers/openapi.json.
func openapiLiteErrors(method, path string, tokenMode bool, status int, header http.Header, body []byte) []error {
	return openapiLiteErrorsIn(handlers.OpenAPIDocument(), method, path, tokenMode, status, header, body)
}

// openapiLiteErrorsIn checks a call against the document raw.
func openapiLiteErrorsIn(raw []byte, method, path string, tokenMode bool, status int, header http.Header, body []byte) []error {
	if method == http.MethodHead || method == http.MethodOptions || status >= 300 && status < 400 {
		return nil
	}
	if !strings.HasPrefix(path, "/api/auth/") && !strings.HasPrefix(path, "/api/admin/auth/") {
		return nil
	}
	d, err := openapiLiteLoad(raw)
	if err != nil {
		return []error{err}
	}
	var code struct{ Code string }
	_ = json.Unmarshal(body, &code)
	pathKnown := false
	for _, op := range d.ops {
		if !op.matches(path) {
			continue
		}
		pathKnown = true
		if op.method == method {
			return d.checkResponse(op, tokenMode, status, header, code.Code)
		}
	}
	want, wantCode := http.StatusNotFound, authsys.CodeNotFound
	if pathKnown {
		want, wantCode = http.StatusMethodNotAllowed, authsys.CodeMethodNotAllowed
	}
	if status != want || code.Code != wantCode || header.Get("Content-Type") != "application/problem+json" {
		return []error{fmt.Errorf("undocumented operation answered %d %q (%s), want %d %s problem", status, code.Code, header.Get("Content-Type"), want, wantCode)}
	}
	return nil
}

func (d *openapiLiteDoc) checkResponse(op openapiLiteOp, tokenMode bool, status int, header http.Header, code string) []error {
	resp := openapiResolve(d.doc, op.responses[strconv.Itoa(status)])
	if resp == nil {
		return []error{fmt.Errorf("status %d is not documented for %s %s%s", status, op.method, op.mount, op.path)}
	}
	var errs []error
	if content, _ := openapiAt(resp, "content").(map[string]any); len(content) > 0 {
		ct := header.Get("Content-Type")
		if _, ok := content[ct]; !ok {
			errs = append(errs, fmt.Errorf("Content-Type %q is not documented for %d (want one of %q)", ct, status, slices.Sorted(maps.Keys(content))))
		} else if ct == "application/problem+json" {
			if codes := openapiCodes(d.doc, resp); !slices.Contains(codes, code) {
				errs = append(errs, fmt.Errorf("problem code %q is not documented for %d (want one of %q)", code, status, codes))
			}
		} else if codes := openapiMessageCodes(d.doc, resp); codes != nil && !slices.Contains(codes, code) {
			errs = append(errs, fmt.Errorf("success code %q is not documented for %d (want one of %q)", code, status, codes))
		}
	}
	headers, _ := openapiAt(resp, "headers").(map[string]any)
	for name, h := range headers {
		h = openapiResolve(d.doc, h)
		req, _ := openapiAt(h, "required").(bool)
		if inCookieMode, _ := openapiAt(h, openapiCookieModeRequired).(bool); inCookieMode && !tokenMode {
			req = true
		}
		if req && header.Get(name) == "" {
			errs = append(errs, fmt.Errorf("required response header %s is missing", name))
		}
	}
	return errs
}

// openapiCookieModeRequired marks a response header (the token cookies'
// Set-Cookie) that a response must carry unless the request ran in token
// mode, where no cookie is set: OpenAPI cannot make a header's presence
// depend on a request header, so both validators check this extension.
const openapiCookieModeRequired = "x-cookie-mode-required"

// openapiTokenMode reports whether req asked for token mode.
func openapiTokenMode(req *http.Request) bool {
	return strings.TrimSpace(req.Header.Get("X-Auth-Mode")) == "token"
}

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
		user     = `{"id":"u1","email":"a@example.com","email_verified":true,"is_active":true,"is_staff":false,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z"}`
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
		{"login 2fa", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc","methods":["totp","backup_code"]}`, ""},
		{"login 2fa with user", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc","methods":["totp"],"user":` + user + `}`, "response"},
		{"login unknown request member", "POST", "/api/auth/login/", `{"email":"a@example.com","password":"p","remember":true}`, hdr("Content-Type", jsonCT), 200, hdr("Content-Type", jsonCT), `{"requires_2fa":true,"session_token":"abc"}`, "request"},
		{"malformed request refused", "POST", "/api/auth/login/", `{"email":`, hdr("Content-Type", jsonCT), 400, hdr("Content-Type", problemJ), prob(400, "invalid_json"), ""},
		{"refresh without Set-Cookie", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT), `{"message":"ok","code":"refresh.done"}`, "Set-Cookie"},
		{"refresh with Set-Cookie", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok","code":"refresh.done"}`, ""},
		{"refresh with another code", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok","code":"logout.done"}`, "response"},
		{"message without code", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok"}`, "response"},
		{"refresh in token mode", "POST", "/api/auth/refresh/", `{"refresh_token":"r"}`, hdr("Content-Type", jsonCT, "X-Auth-Mode", "token"), 200, hdr("Content-Type", jsonCT), `{"message":"ok","code":"refresh.done","tokens":{"access_token":"a","token_type":"Bearer","expires_in":900,"refresh_token":"r","refresh_expires_in":604800}}`, ""},
		{"refresh in token mode without expiry", "POST", "/api/auth/refresh/", `{"refresh_token":"r"}`, hdr("Content-Type", jsonCT, "X-Auth-Mode", "token"), 200, hdr("Content-Type", jsonCT), `{"message":"ok","code":"refresh.done","tokens":{"access_token":"a","token_type":"Bearer","expires_in":900,"refresh_token":"r"}}`, "response"},
		{"refresh in cookie mode with a token body", "POST", "/api/auth/refresh/", "", hdr("Cookie", "refresh_token=x"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok","code":"refresh.done","tokens":{"access_token":"a","token_type":"Bearer","expires_in":900}}`, "cookie-mode answer carries tokens"},
		{"refresh in token mode setting a cookie", "POST", "/api/auth/refresh/", `{"refresh_token":"r"}`, hdr("Content-Type", jsonCT, "X-Auth-Mode", "token"), 200, hdr("Content-Type", jsonCT, "Set-Cookie", "access_token=a"), `{"message":"ok","code":"refresh.done","tokens":{"access_token":"a","token_type":"Bearer","expires_in":900,"refresh_token":"r","refresh_expires_in":604800}}`, "sets cookies"},
		{"unknown auth mode", "GET", "/api/auth/me/", "", hdr("X-Auth-Mode", "tokens"), 400, hdr("Content-Type", problemJ), prob(400, "invalid_auth_mode"), ""},
		{"token mode disabled on the admin API", "GET", "/api/admin/auth/users/", "", hdr("X-Auth-Mode", "token"), 400, hdr("Content-Type", problemJ), prob(400, "token_mode_disabled"), ""},
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

// The OpenAPI validation layer of the root test suite: every call sent to
// an env's server through harnessSend (main_test.go; client.do, coreRaw,
// coreRawBody, tfaPost, rlPost and the raw requests of the race tests all
// use it) to the auth API (/api/auth) or the admin API (/api/admin/auth) is
// checked against handlers/openapi.json with kin-openapi's openapi3filter,
// so a handler that drifts from the document fails the test that made the
// call. Responses are always validated, problem responses included, and a
// status the operation does not list is an error. Requests are validated
// only when the response is 2xx: tests send malformed requests on purpose,
// and the server must refuse those, not the validator. A call to an
// undocumented path or method must get 404 not_found or 405
// method_not_allowed. What the document cannot express about token mode
// is checked too (openapiModeErrors, and the token cookies' Set-Cookie,
// required unless the request ran in token mode): a cookie-mode answer
// never holds tokens, a token-mode answer never sets a cookie. Other paths
// (/api/private) and HEAD or OPTIONS requests (CORS preflights: see
// cors_test.go) are not checked, nor are 3xx responses (the mux's
// path-cleaning redirects). Both validators are safe for concurrent use
// (TestOpenAPIValidatorConcurrent).

func init() {
	harnessValidate = func(t *testing.T, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
		t.Helper()
		for _, err := range openapiCheck(req, reqBody, res.StatusCode, res.Header, resBody) {
			t.Errorf("OpenAPI: %s %s → %d: %s\nresponse body: %s", req.Method, req.URL.RequestURI(), res.StatusCode, openapiClip([]byte(err.Error())), openapiClip(resBody))
		}
	}
}

// openapiMounts are the mounts of the two APIs in the harness.
var openapiMounts = []string{"/api/auth/", "/api/admin/auth/"}

type openapiSpec struct {
	doc    *openapi3.T
	router routers.Router
}

// openapiLoad loads, validates and routes handlers/openapi.json once.
func openapiLoad() (*openapiSpec, error) { return openapiLoadDoc(handlers.OpenAPIDocument()) }

// openapiLoadDoc loads, validates and routes the document raw once.
func openapiLoadDoc(raw []byte) (*openapiSpec, error) {
	return openapiCached("kin", raw, openapiRead)
}

func openapiRead(raw []byte) (*openapiSpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("loading handlers/openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("handlers/openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing handlers/openapi.json: %w", err)
	}
	return &openapiSpec{doc: doc, router: router}, nil
}

// openapiAuthenticate accepts a request that carries what the security
// scheme names: the cookie of an apiKey-in-cookie scheme, or a Bearer
// Authorization header.
func openapiAuthenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "apiKey" && s.In == "cookie":
		if c, err := r.Cookie(s.Name); err != nil || c.Value == "" {
			return fmt.Errorf("no %s cookie", s.Name)
		}
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		if a := r.Header.Get("Authorization"); len(a) < 8 || !strings.EqualFold(a[:7], "bearer ") {
			return errors.New("no Bearer Authorization header")
		}
	default:
		return fmt.Errorf("unexpected security scheme %s/%s", s.Type, s.In)
	}
	return nil
}

// openapiCheck validates one call against the document and returns what
// is wrong with it.
func openapiCheck(req *http.Request, reqBody []byte, status int, header http.Header, resBody []byte) []error {
	switch {
	case req.Method == http.MethodHead || req.Method == http.MethodOptions:
		return nil
	case status >= 300 && status < 400:
		return nil
	}
	inAPI := false
	for _, m := range openapiMounts {
		if strings.HasPrefix(req.URL.Path, m) {
			inAPI = true
		}
	}
	if !inAPI {
		return nil
	}
	spec, err := openapiLoadDoc(openapiDocFor(req.URL))
	if err != nil {
		return []error{err}
	}
	ctx := context.Background()
	vreq := openapiRequest(req, reqBody)
	route, params, err := spec.router.FindRoute(vreq)
	if errors.Is(err, routers.ErrPathNotFound) && !strings.HasSuffix(vreq.URL.Path, "/") {
		// Paths also answer without their trailing slash.
		vreq.URL.Path += "/"
		vreq.URL.RawPath = ""
		route, params, err = spec.router.FindRoute(vreq)
	}
	if err != nil {
		return openapiUnrouted(spec, err, status, header, resBody)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapiAuthenticate}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	var errs []error
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	rin.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		errs = append(errs, fmt.Errorf("response: %w", err))
	}
	errs = append(errs, openapiModeErrors(req, header, resBody)...)
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil && !openapiTokenMode(req) {
		for name, h := range resp.Value.Headers {
			if h.Value != nil && h.Value.Extensions[openapiCookieModeRequired] == true && header.Get(name) == "" {
				errs = append(errs, fmt.Errorf("response: header %s is missing (required unless in token mode)", name))
			}
		}
	}
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("request (answered %d): %w; request body: %s", status, err, openapiClip(reqBody)))
		}
	}
	return errs
}

// openapiModeErrors checks what the document cannot say about token mode:
// a cookie-mode answer never carries tokens in its body (no "tokens"
// member), and a token-mode answer sets no cookie.
func openapiModeErrors(req *http.Request, header http.Header, body []byte) []error {
	if openapiTokenMode(req) {
		if sc := header.Values("Set-Cookie"); len(sc) > 0 {
			return []error{fmt.Errorf("response: a token-mode answer sets cookies %q", sc)}
		}
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil && m["tokens"] != nil {
		return []error{errors.New("response: a cookie-mode answer carries tokens in its body")}
	}
	return nil
}

// openapiUnrouted checks the answer to a path or method the document does
// not have: it must be the 404 or 405 problem, never a success.
func openapiUnrouted(spec *openapiSpec, routeErr error, status int, header http.Header, body []byte) []error {
	want, name := http.StatusNotFound, "NotFound"
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want, name = http.StatusMethodNotAllowed, "MethodNotAllowed"
	}
	if status != want {
		return []error{fmt.Errorf("undocumented (%v) but answered %d, want %d", routeErr, status, want)}
	}
	resp := spec.doc.Components.Responses[name].Value
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		return []error{fmt.Errorf("got Content-Type %q, want application/problem+json", ct)}
	}
	if want == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		return []error{errors.New("405 without Allow")}
	}
	v, err := openapiDecode(body)
	if err != nil {
		return []error{err}
	}
	schema := resp.Content.Get("application/problem+json").Schema.Value
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return []error{fmt.Errorf("problem body does not match components.responses.%s: %w", name, err)}
	}
	return nil
}

func openapiDecode(body []byte) (any, error) {
	v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), http.Header{}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	return v, nil
}

// openapiRequest returns a copy of req with its body restored, for the
// router and the request validator.
func openapiRequest(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	return r
}

// openapiClip shortens a body for a failure message.
func openapiClip(b []byte) string {
	if len(b) > 1500 {
		return string(b[:1500]) + "…"
	}
	return string(b)
}

// TestOpenAPIValidatorConcurrent runs both validators on the same calls
// from many goroutines at once, as the race tests of the suite do through
// harnessSend: under -race nothing they share may be written, and every
// goroutine must get the verdicts of a serial run.
func TestOpenAPIValidatorConcurrent(t *testing.T) {
	const user = `{"id":"u1","email":"a@example.com","email_verified":true,"is_active":true,"is_staff":false,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z"}`
	type call struct {
		method, path, reqBody, cookie string
		status                        int
		ct, body                      string
	}
	calls := []call{
		{"GET", "/api/auth/me/", "", "access_token=x", 200, "application/json", `{"user":` + user + `}`},
		{"GET", "/api/auth/me/", "", "access_token=x", 200, "application/json", `{"user":{"id":"u1"}}`},
		{"POST", "/api/auth/login/", `{"email":"a@example.com","password":"p"}`, "", 200, "application/json", `{"requires_2fa":true,"session_token":"abc"}`},
		{"POST", "/api/auth/login/", `{"email":"a@example.com","password":"p","x":1}`, "", 200, "application/json", `{"requires_2fa":true,"session_token":"abc"}`},
		{"POST", "/api/auth/2fa/backup-codes/", `{"password":"p"}`, "access_token=x", 200, "application/json", `{"backup_codes":["ABC"]}`},
		{"GET", "/api/admin/auth/users/?limit=1000", "", "access_token=x", 200, "application/json", `{"users":[],"next_cursor":null}`},
		{"GET", "/api/auth/nope/", "", "", 404, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404,"code":"not_found","detail":"x"}`},
		{"DELETE", "/api/auth/me/", "", "", 405, "application/problem+json", `{"type":"about:blank","title":"Method Not Allowed","status":405,"code":"method_not_allowed","detail":"x"}`},
	}
	verdict := func(c call) string {
		req, err := http.NewRequest(c.method, "http://127.0.0.1:1"+c.path, strings.NewReader(c.reqBody))
		if err != nil {
			return err.Error()
		}
		if c.cookie != "" {
			req.Header.Set("Cookie", c.cookie)
		}
		h := http.Header{"Content-Type": {c.ct}}
		if c.status == 405 {
			h.Set("Allow", "GET")
		}
		var out []string
		for _, err := range openapiCheck(req, []byte(c.reqBody), c.status, h, []byte(c.body)) {
			out = append(out, err.Error())
		}
		for _, err := range openapiLiteErrors(c.method, req.URL.Path, false, c.status, h, []byte(c.body)) {
			out = append(out, err.Error())
		}
		return strings.Join(out, "\n")
	}
	want := make([]string, len(calls))
	for i, c := range calls {
		want[i] = verdict(c)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for k := range 3 * len(calls) {
				i := (g + k) % len(calls)
				if got := verdict(calls[i]); got != want[i] {
					t.Errorf("call %d on goroutine %d: got verdict %q, want the serial %q", i, g, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

package authsys_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/internal/server"
)

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
	if err := json.Unmarshal(authsys.OpenAPIDocument(), &doc); err != nil {
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
	if string(r.body) != string(authsys.OpenAPIDocument()) {
		t.Fatalf("got %d bytes, want the %d bytes of authsys.OpenAPIDocument()", len(r.body), len(authsys.OpenAPIDocument()))
	}
	if got := fmt.Sprint(r.json(t)["openapi"]); got != "3.1.0" {
		t.Fatalf("got openapi %q, want 3.1.0", got)
	}
}

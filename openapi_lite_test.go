package authsys_test

// A dependency-free check of every call sent through harnessSend
// (harness_test.go) against handlers/openapi.json, read with encoding/json:
// the call must reach a documented operation (else it must get 404
// not_found or 405 method_not_allowed), its status must be one the
// operation lists, its Content-Type one the response lists, a problem's
// code one the response enumerates, and the response's required headers
// (Retry-After, Set-Cookie) present. It always runs; the full schema
// validation with kin-openapi (openapi_validate_test.go) adds the bodies,
// parameters and request checks.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys"
)

// openapiLiteOp is one documented operation.
type openapiLiteOp struct {
	mount, path, method string
	responses           map[string]any
}

type openapiLiteDoc struct {
	doc map[string]any
	ops []openapiLiteOp
}

var openapiLiteLoad = sync.OnceValues(func() (*openapiLiteDoc, error) {
	var doc map[string]any
	if err := json.Unmarshal(authsys.OpenAPIDocument(), &doc); err != nil {
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
})

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
	for _, err := range openapiLiteErrors(req.Method, req.URL.Path, res.StatusCode, res.Header, body) {
		t.Errorf("OpenAPI: %s %s → %d: %v\nresponse body: %.1500s", req.Method, req.URL.RequestURI(), res.StatusCode, err, body)
	}
}

func openapiLiteErrors(method, path string, status int, header http.Header, body []byte) []error {
	if method == http.MethodHead || method == http.MethodOptions || status >= 300 && status < 400 {
		return nil
	}
	if !strings.HasPrefix(path, "/api/auth/") && !strings.HasPrefix(path, "/api/admin/auth/") {
		return nil
	}
	d, err := openapiLiteLoad()
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
			return d.checkResponse(op, status, header, code.Code)
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

func (d *openapiLiteDoc) checkResponse(op openapiLiteOp, status int, header http.Header, code string) []error {
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
		}
	}
	headers, _ := openapiAt(resp, "headers").(map[string]any)
	for name, h := range headers {
		if req, _ := openapiAt(openapiResolve(d.doc, h), "required").(bool); req && header.Get(name) == "" {
			errs = append(errs, fmt.Errorf("required response header %s is missing", name))
		}
	}
	return errs
}

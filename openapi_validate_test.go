package authsys_test

// The OpenAPI validation layer of the root test suite: every call sent to
// an env's server through harnessSend (harness_test.go; client.do, coreRaw,
// coreRawBody, tfaPost, rlPost and the raw requests of the race tests all
// use it) to the auth API (/api/auth) or the admin API (/api/admin/auth) is
// checked against handlers/openapi.json with kin-openapi's openapi3filter,
// so a handler that drifts from the document fails the test that made the
// call. Responses are always validated, problem responses included, and a
// status the operation does not list is an error. Requests are validated
// only when the response is 2xx: tests send malformed requests on purpose,
// and the server must refuse those, not the validator. A call to an
// undocumented path or method must get 404 not_found or 405
// method_not_allowed. Other paths (/api/private) and HEAD or OPTIONS
// requests are not checked, nor are 3xx responses (the mux's path-cleaning
// redirects). Both validators are safe for concurrent use
// (TestOpenAPIValidatorConcurrent).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authsys-go/authsys"
)

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

// openapiLoad loads, validates and routes authsys.OpenAPIDocument() once.
var openapiLoad = sync.OnceValues(func() (*openapiSpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(authsys.OpenAPIDocument())
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
})

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
	spec, err := openapiLoad()
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
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("request (answered %d): %w; request body: %s", status, err, openapiClip(reqBody)))
		}
	}
	return errs
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
	const user = `{"id":"u1","email":"a@example.com","is_active":true,"two_factor_enabled":false,"date_joined":"2026-03-01T12:00:00Z"}`
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
		for _, err := range openapiLiteErrors(c.method, req.URL.Path, c.status, h, []byte(c.body)) {
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

package authsys_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
)

// TestRenderProblem replaces the error format with Config.RenderProblem and
// checks that every error path uses it: a handler's error with field
// errors, the CSRF refusal, the middleware's 401 and a 429 with its
// Retry-After; and that the hook gets the status, the stable code and the
// field errors but never has to show the internal cause.
func TestRenderProblem(t *testing.T) {
	e := newEnv(t, func(c *authsys.Config) {
		c.RateLimits = testLimits(map[string]string{limitPasswordReset: "1/min"})
		c.Hooks.RenderProblem = func(w http.ResponseWriter, r *http.Request, p *authsys.Problem) {
			w.Header().Set("Content-Type", "application/vnd.app.error+json")
			w.WriteHeader(p.Status)
			fields := make([]string, 0, len(p.Errors))
			for f := range p.Errors {
				fields = append(fields, f)
			}
			json.NewEncoder(w).Encode(map[string]any{"error": p.Code, "fields": fields, "title": p.Title})
		}
	})
	call := func(method, path, body string, header ...string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: body %q is not the custom JSON: %v", method, path, raw, err)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/vnd.app.error+json" {
			t.Errorf("%s %s: got Content-Type %q, want the custom one", method, path, ct)
		}
		return res, v
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"field errors", "POST", "/api/auth/signup/", `{"email":"not-an-email","password":"x"}`, nil, 400, "validation_failed"},
		{"csrf", "POST", "/api/auth/logout/", `{}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "csrf_failed"},
		{"middleware", "GET", "/api/private", "", nil, 401, "not_authenticated"},
		{"not found", "GET", "/api/auth/nope/", "", nil, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, v := call(tc.method, tc.path, tc.body, tc.header...)
			if res.StatusCode != tc.status || v["error"] != tc.code || v["title"] != http.StatusText(tc.status) {
				t.Errorf("got %d %v, want %d with error %s and its title", res.StatusCode, v, tc.status, tc.code)
			}
			if tc.code == "validation_failed" && fmt.Sprint(v["fields"]) == "[]" {
				t.Errorf("got no field errors: %v", v)
			}
		})
	}
	first, err := http.Post(e.srv.URL+"/api/auth/password-reset/", "application/json", strings.NewReader(`{"email":"a@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first password reset: got %d, want 200", first.StatusCode)
	}
	res, v := call("POST", "/api/auth/password-reset/", `{"email":"a@example.com"}`)
	if res.StatusCode != 429 || v["error"] != "throttled" || res.Header.Get("Retry-After") == "" {
		t.Errorf("throttled: got %d %v Retry-After %q, want 429 throttled with Retry-After", res.StatusCode, v, res.Header.Get("Retry-After"))
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestDisplayName: the example's display_name field is accepted at
// signup, trimmed, shown by /me/ and described by the served OpenAPI
// document; a bad one is refused with its code.
func TestDisplayName(t *testing.T) {
	dir := t.TempDir()
	s := srvStart(t, append(srvLocalFlags(dir), "-db", filepath.Join(dir, "authsys.db"))...)
	c := newSrvClient(t)
	body := c.want(http.StatusBadRequest, http.MethodPost, s.url+"/api/auth/signup/",
		map[string]string{"email": srvEmail, "password": srvPassword, "display_name": strings.Repeat("x", 81)})
	if !strings.Contains(body, `"display_name_too_long"`) {
		t.Errorf("a too long name: got %s, want display_name_too_long", body)
	}
	c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/",
		map[string]string{"email": srvEmail, "password": srvPassword, "display_name": "  Alice Liddell "})
	c.want(http.StatusOK, http.MethodGet, srvVerifyURL(s.consoleLink()), nil)
	c.want(http.StatusOK, http.MethodPost, s.url+"/api/auth/login/", srvCreds)
	var me struct {
		User struct {
			Profile map[string]any `json:"profile"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(c.want(http.StatusOK, http.MethodGet, s.url+"/api/auth/me/", nil)), &me); err != nil {
		t.Fatal(err)
	}
	if got := me.User.Profile["display_name"]; got != "Alice Liddell" {
		t.Errorf("/me/ display_name: got %v, want the trimmed name", got)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(c.want(http.StatusOK, http.MethodGet, s.url+"/api/auth/openapi.json", nil)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Components.Schemas["SignupRequest"].Properties["display_name"] == nil {
		t.Error("the served OpenAPI document has no display_name in SignupRequest")
	}
}

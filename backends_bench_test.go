package authsys_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store/memory"
)

// bkBenchAuth returns an Auth on a memory store and a valid access cookie
// of a verified user, obtained through the HTTP API.
func bkBenchAuth(b *testing.B) (*authsys.Auth, *http.Cookie) {
	b.Helper()
	st := memory.New()
	out := &mail.Outbox{}
	params := cheapParams
	auth, err := authsys.New(authsys.Config{
		Keys:       authsys.Keys{Signing: authsys.Key{Secret: testKey}},
		Users:      st,
		Pending:    st,
		Mailer:     out,
		Links:      authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:       authsys.Mail{From: "noreply@example.com"},
		Passwords:  authsys.Passwords{Params: params},
		RateLimits: authsys.RateLimits{Off: true},
		Logger:     discardLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	h := auth.Handler()
	post := func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	const creds = `{"email":"bench@example.com","password":"correct horse battery staple"}`
	if w := post("/signup/", creds); w.Code != http.StatusCreated {
		b.Fatalf("signup: got %d %s", w.Code, w.Body)
	}
	if err := auth.Shutdown(b.Context()); err != nil {
		b.Fatal(err)
	}
	m, ok := out.Last("bench@example.com")
	if !ok || len(m.Links) == 0 {
		b.Fatal("no verification mail")
	}
	u, _ := url.Parse(m.Links[0])
	q := u.Query()
	if w := post("/verify-account/", `{"uid":"`+q.Get("uid")+`","token":"`+q.Get("token")+`"}`); w.Code != http.StatusOK {
		b.Fatalf("verify: got %d %s", w.Code, w.Body)
	}
	w := post("/login/", creds)
	for _, c := range w.Result().Cookies() {
		if c.Name == "access_token" {
			return auth, c
		}
	}
	b.Fatalf("login set no access cookie: %d %s", w.Code, w.Body)
	return nil, nil
}

// BenchmarkMiddleware measures Auth.Middleware on a memory store: token
// verification plus one UserStore lookup per request.
func BenchmarkMiddleware(b *testing.B) {
	auth, cookie := bkBenchAuth(b)
	ok := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, found := authsys.UserFromContext(r.Context()); !found {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	cases := []struct {
		name   string
		cookie *http.Cookie
		want   int
	}{
		{"valid", cookie, http.StatusOK},
		{"no_cookie", nil, http.StatusUnauthorized},
		{"tampered", &http.Cookie{Name: "access_token", Value: cookie.Value[:len(cookie.Value)-4] + "AAAA"}, http.StatusUnauthorized},
	}
	for _, bc := range cases {
		req := httptest.NewRequest(http.MethodGet, "/api/private", nil)
		if bc.cookie != nil {
			req.AddCookie(bc.cookie)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				ok.ServeHTTP(w, req)
				if w.Code != bc.want {
					b.Fatalf("got status %d, want %d", w.Code, bc.want)
				}
			}
		})
	}
	b.Run("valid_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/api/private", nil)
			req.AddCookie(cookie)
			for pb.Next() {
				w := httptest.NewRecorder()
				ok.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Errorf("got status %d, want 200", w.Code)
					return
				}
			}
		})
	})
}

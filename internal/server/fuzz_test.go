package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/clientip"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/internal/session"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
)

// The fuzz targets of this file drive the real handlers over memory stores:
// every request body and every cookie value is untrusted input.

const (
	fuzzPassword = "correct horse battery staple"
	fuzzEmail    = "user@example.com"
	fuzzOther    = "other@example.com"
)

// fuzzHasher hashes with the cheapest argon2id parameters, so a login costs
// well under a millisecond.
var fuzzHasher = password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 0)

// fuzzEnv is one fresh auth server with two users: user (staff, logged in:
// access and refresh are its genuine cookies) and other.
type fuzzEnv struct {
	h               *Handlers
	st              *memory.Store
	outbox          *mail.Outbox
	user, other     store.User
	access, refresh string
}

// setField sets the field name of the struct *ptr to v when it exists, so
// that these targets keep compiling while settings come and go.
func setField(ptr any, name string, v any) {
	f := reflect.ValueOf(ptr).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() && reflect.TypeOf(v).AssignableTo(f.Type()) {
		f.Set(reflect.ValueOf(v))
	}
}

// fuzzDeps returns Deps as authsys.New builds them from a Config with
// defaults, on st, with rate limits off (every input reaches its handler)
// and the cheap hasher.
func fuzzDeps(tb testing.TB, st *memory.Store, outbox *mail.Outbox) Deps {
	tm, err := tokens.NewManager(tokens.Options{Keys: []tokens.Key{{ID: "k1", Secret: []byte(strings.Repeat("s", 32))}}})
	if err != nil {
		tb.Fatal(err)
	}
	cipher, err := totp.NewCipher([]totp.Key{{ID: "k1", Secret: []byte(strings.Repeat("t", 32))}})
	if err != nil {
		tb.Fatal(err)
	}
	ips, err := clientip.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	front, _ := url.Parse("https://app.example.com")
	keys := session.NewKeys("auth:")
	d := Deps{
		Users: st, Pending: st, SessionStore: st, Notifier: st,
		Mailer:      outbox,
		Tokens:      tm,
		Hasher:      fuzzHasher,
		Limiter:     ratelimit.New(st, keys.RateLimits()),
		ClientIP:    ips,
		CSRF:        http.NewCrossOriginProtection(),
		FrontendURL: front,
		TOTPCipher:  cipher,
		Logger:      slog.New(slog.DiscardHandler),
		Now:         time.Now,
		Mail:        Mail{From: "noreply@example.com", AppName: "Fuzz", Templates: &mail.Templates{}, Timeout: 5 * time.Second},
		Links: Links{
			FrontendURL:       front.String(),
			VerifyAccountPath: "/verify-account", PasswordResetPath: "/reset-password", EmailChangePath: "/confirm-email-change",
			VerifyAccountTTL: 72 * time.Hour, PasswordResetTTL: time.Hour, EmailChangeTTL: time.Hour,
		},
		Sessions: Sessions{
			AccessTTL: 15 * time.Minute, RefreshTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour,
			RefreshReuseGrace: 10 * time.Second, ClockSkew: 5 * time.Second,
			Issuer: "authsys", Audience: "authsys", NativeClients: true, KeyPrefix: "auth:",
		},
		Cookies:   Cookies{AccessName: "access_token", RefreshName: "refresh_token", RefreshPath: "/api/auth/", SameSite: http.SameSiteLaxMode},
		TwoFactor: TwoFactor{Issuer: "Fuzz", BackupCodes: 10, PendingLoginTTL: 5 * time.Minute, Rand: rand.Reader},
		HTTP:      HTTP{RequestTimeout: 10 * time.Second},
		Hooks:     Hooks{IsAdmin: func(a handlers.Account) bool { return a.IsStaff }},
	}
	// Settings newer than this file, when they exist.
	setField(&d.Sessions, "ReauthWindow", 10*time.Minute)
	// Passkeys on, so that their endpoints read their bodies too.
	d.Passkeys = Passkeys{RPID: "app.example.com", RPDisplayName: "Fuzz", RPOrigins: []string{"https://app.example.com"}, ChallengeTTL: 5 * time.Minute, MaxPerUser: 20}
	wa, err := NewWebAuthn(d.Passkeys)
	if err != nil {
		tb.Fatal(err)
	}
	d.PasskeyStore, d.WebAuthn = st, wa
	return d
}

// fuzzHash is the hash of fuzzPassword both users start with.
var fuzzHash = sync.OnceValue(func() string {
	h, err := fuzzHasher.Hash(context.Background(), fuzzPassword)
	if err != nil {
		panic(err)
	}
	return h
})

func newFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	ctx := context.Background()
	e := &fuzzEnv{st: memory.New(), outbox: &mail.Outbox{}}
	e.h = New(fuzzDeps(t, e.st, e.outbox))
	var err error
	e.user, err = e.st.CreateUser(ctx, store.User{Email: fuzzEmail, PasswordHash: fuzzHash(), IsActive: true, EmailVerified: true, IsStaff: true, DateJoined: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	e.other, err = e.st.CreateUser(ctx, store.User{Email: fuzzOther, PasswordHash: fuzzHash(), IsActive: true, EmailVerified: true, DateJoined: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/login/", strings.NewReader(`{"email":"`+fuzzEmail+`","password":"`+fuzzPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		switch c.Name {
		case "access_token":
			e.access = c.Value
		case "refresh_token":
			e.refresh = c.Value
		}
	}
	if e.access == "" || e.refresh == "" {
		t.Fatalf("login set no token cookies: %v", rec.Result().Cookies())
	}
	// The login itself is no state the checks below look at.
	if e.user, err = e.st.UserByID(ctx, e.user.ID); err != nil {
		t.Fatal(err)
	}
	e.flushMail(t)
	e.outbox.Reset()
	return e
}

// flushMail waits for the mails still being sent.
func (e *fuzzEnv) flushMail(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.h.Shutdown(ctx); err != nil {
		t.Fatalf("waiting for mail: %v", err)
	}
}

// sessionState is what a refused request must not change about a session.
type sessionState struct {
	ID, RefreshID string
	Revoked       bool
}

// snapshot is the durable state a refused request must leave alone.
type snapshot struct {
	users    []store.User
	sessions map[string][]sessionState
	mails    int
}

func (e *fuzzEnv) snapshot(t testing.TB) snapshot {
	t.Helper()
	ctx := context.Background()
	e.flushMail(t)
	users, err := e.st.ListUsers(ctx, "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{users: users, sessions: map[string][]sessionState{}, mails: e.outbox.Len()}
	for _, u := range users {
		ss, err := e.st.SessionsByUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ss {
			s.sessions[u.ID] = append(s.sessions[u.ID], sessionState{x.ID, x.RefreshID, !x.RevokedAt.IsZero()})
		}
	}
	return s
}

func (s snapshot) diff(o snapshot) string {
	switch {
	case !reflect.DeepEqual(s.users, o.users):
		return "users changed"
	case !reflect.DeepEqual(s.sessions, o.sessions):
		return "sessions changed"
	case s.mails != o.mails:
		return "mail was sent"
	}
	return ""
}

// checkAnswer checks the properties every answer has: no 5xx, JSON for a
// success, problem+json with a known code and the right status otherwise.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) (code string) {
	t.Helper()
	body := rec.Body.Bytes()
	ct := rec.Header().Get("Content-Type")
	switch {
	case rec.Code >= 500:
		t.Fatalf("%s: status %d, body %s", what, rec.Code, body)
	case rec.Code < 400:
		if rec.Code < 200 || rec.Code > 299 {
			t.Fatalf("%s: status %d, want 2xx or a problem", what, rec.Code)
		}
		if ct != "application/json" || !json.Valid(body) {
			t.Fatalf("%s: status %d answered %q %q, want application/json", what, rec.Code, ct, body)
		}
		return ""
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if ct != "application/problem+json" || json.Unmarshal(body, &p) != nil {
		t.Fatalf("%s: status %d answered %q %q, want application/problem+json", what, rec.Code, ct, body)
	}
	if p.Status != rec.Code || !slices.Contains(ProblemCodes, p.Code) {
		t.Fatalf("%s: status %d answered status %d code %q, want the same status and a code of ProblemCodes", what, rec.Code, p.Status, p.Code)
	}
	return p.Code
}

// postRoute is one POST endpoint: its path as registered ("{id}" stands
// for a user ID), on the admin API or not.
type postRoute struct {
	path  string
	admin bool
}

// postRoutes lists every POST endpoint of both APIs (from their routes, so
// new endpoints are fuzzed too) whose only parameter is a user {id}, sorted
// by path.
func postRoutes() []postRoute {
	h := New(Deps{})
	var out []postRoute
	for _, mux := range []*http.ServeMux{h.mux, h.admin} {
		for _, rt := range h.served[mux] {
			if !slices.Contains(rt.Methods, http.MethodPost) || strings.Contains(strings.ReplaceAll(rt.Path, "{id}", ""), "{") {
				continue
			}
			out = append(out, postRoute{rt.Path, mux == h.admin})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// pickRoute returns the route of routes whose path is path, or else one
// chosen by a hash of path, so that every input reaches some endpoint.
func pickRoute(routes []postRoute, path string) postRoute {
	for _, r := range routes {
		if r.path == path {
			return r
		}
	}
	return routes[crc32.ChecksumIEEE([]byte(path))%uint32(len(routes))]
}

// FuzzEndpointBody posts an arbitrary body with an arbitrary Content-Type
// to a POST endpoint (path picks it; the seeds name each one), with the
// genuine cookies of a logged-in staff user so that authenticated endpoints
// read their body too. Every answer is below 500, JSON on success and
// problem+json with a known code otherwise; a refused request changes no
// user, no session and sends no mail.
func FuzzEndpointBody(f *testing.F) {
	routes := postRoutes()
	bodies := []string{
		`{}`, ``, `null`, `[]`, `"x"`, `{"email":"` + fuzzEmail + `","password":"` + fuzzPassword + `"}`,
		`{"email":"new@example.com","password":"another long password 1"}`,
		`{"email":"` + fuzzEmail + `"}`, `{"uid":"x","token":"k1.1.AAAA"}`, `{"token":"x"}`,
		`{"current_password":"` + fuzzPassword + `","new_password":"another long password 1"}`,
		`{"password":"` + fuzzPassword + `","code":"123456"}`, `{"code":"7k3dq-x9mfa"}`,
		`{"session_token":"x","code":"123456","remember_device":true}`,
		`{"email":1}`, `{"password":null}`, `{"unknown":1}`, `{} {}`, `{"a":"\ud800"}`, "{\"email\":\"\xff\"}",
		`{"email":"` + strings.Repeat("a", 300) + `@example.com","password":"x"}`,
	}
	for i, r := range routes {
		p := r.path
		f.Add(p, "application/json", []byte(bodies[i%len(bodies)]))
		f.Add(p, "application/json; charset=utf-8", []byte(`{}`))
		f.Add(p, "", []byte(nil))
		f.Add(p, "text/plain", []byte(`{}`))
	}
	for _, b := range bodies {
		f.Add("/signup/", "application/json", []byte(b))
		f.Add("/login/", "application/json", []byte(b))
	}
	f.Add("/signup/", "application/json;;", []byte(`{}`))
	f.Add("/login/", "APPLICATION/JSON", []byte(`{"email":"`+fuzzEmail+`","password":"`+fuzzPassword+`"}`))
	f.Fuzz(func(t *testing.T, path, contentType string, body []byte) {
		rt := pickRoute(routes, path)
		e := newFuzzEnv(t)
		// Admin actions act on the other user.
		target := strings.ReplaceAll(rt.path, "{id}", e.other.ID)
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Cookie", "access_token="+e.access+"; refresh_token="+e.refresh)
		before := e.snapshot(t)
		rec := httptest.NewRecorder()
		if rt.admin {
			e.h.Admin().ServeHTTP(rec, req)
		} else {
			e.h.ServeHTTP(rec, req)
		}
		what := "POST " + target + " " + contentType + " " + strings.ToValidUTF8(string(body[:min(len(body), 200)]), "?")
		checkAnswer(t, what, rec)
		if rec.Code >= 400 {
			if d := before.diff(e.snapshot(t)); d != "" {
				t.Fatalf("%s: refused with %d %s, but %s", what, rec.Code, rec.Body, d)
			}
		}
	})
}

// FuzzTokenModeBody is FuzzEndpointBody in token mode (X-Auth-Mode:
// token): the genuine access token as a Bearer header, and "$REFRESH" in
// the body standing for the genuine refresh token, which refresh, logout
// and re-authentication read from the body. Besides FuzzEndpointBody's
// checks, a token-mode answer never sets a cookie, and a success that
// carries tokens has a usable access token.
func FuzzTokenModeBody(f *testing.F) {
	routes := postRoutes()
	bodies := []string{
		`{}`, ``, `null`, `{"refresh_token":"$REFRESH"}`, `{"refresh_token":"$REFRESHx"}`, `{"refresh_token":1}`,
		`{"refresh_token":"$REFRESH","x":1}`, `{"refresh_token":"$REFRESH"} {}`, `{"password":"` + fuzzPassword + `","refresh_token":"$REFRESH"}`,
		`{"email":"` + fuzzEmail + `","password":"` + fuzzPassword + `","trusted_device_token":"td_x.k1.a.b"}`,
		`{"session_token":"x","code":"123456","remember_device":true}`,
	}
	for _, r := range routes {
		for _, b := range bodies {
			if r.path == "/refresh/" || r.path == "/logout/" || r.path == "/reauthenticate/" || r.path == "/login/" {
				f.Add(r.path, []byte(b))
			}
		}
		f.Add(r.path, []byte(`{}`))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		rt := pickRoute(routes, path)
		e := newFuzzEnv(t)
		target := strings.ReplaceAll(rt.path, "{id}", e.other.ID)
		raw := strings.ReplaceAll(string(body), "$REFRESH", e.refresh)
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(raw))
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-Auth-Mode", "token")
		req.Header.Set("Authorization", "Bearer "+e.access)
		before := e.snapshot(t)
		rec := httptest.NewRecorder()
		if rt.admin {
			e.h.Admin().ServeHTTP(rec, req)
		} else {
			e.h.ServeHTTP(rec, req)
		}
		what := "POST " + target + " token mode " + strings.ToValidUTF8(string(body[:min(len(body), 200)]), "?")
		checkAnswer(t, what, rec)
		if sc := rec.Header().Values("Set-Cookie"); len(sc) > 0 {
			t.Fatalf("%s: a token-mode answer set cookies %q", what, sc)
		}
		if rec.Code >= 400 {
			if d := before.diff(e.snapshot(t)); d != "" {
				t.Fatalf("%s: refused with %d %s, but %s", what, rec.Code, rec.Body, d)
			}
			return
		}
		var out struct{ Tokens *tokensJSON }
		if json.Unmarshal(rec.Body.Bytes(), &out) == nil && out.Tokens != nil {
			if _, _, err := e.h.sess.Authenticate(context.Background(), out.Tokens.AccessToken); err != nil {
				t.Fatalf("%s: the answer's access token is refused: %v", what, err)
			}
		}
	})
}

// FuzzCookie sends an arbitrary Cookie header (or, for kind 1, an
// Authorization header) to the endpoints that read the access and refresh
// cookies; "$ACCESS" and "$REFRESH" in it stand for the genuine tokens of
// the logged-in user. An endpoint succeeds only for the exact genuine token
// the server reads (as net/http parses the header), answers below 500 with
// a known problem code otherwise, and a refused value changes nothing.
func FuzzCookie(f *testing.F) {
	for kind := range uint8(5) {
		for _, s := range []string{
			"access_token=$ACCESS", "refresh_token=$REFRESH", "access_token=$ACCESS; refresh_token=$REFRESH",
			"access_token=\"$ACCESS\"", "access_token=$ACCESSx", "access_token=x$ACCESS", "access_token=$REFRESH",
			"refresh_token=$ACCESS", "access_token=; access_token=$ACCESS", "access_token=$ACCESS; access_token=x",
			"", "=", ";;", "access_token", "access_token=", "refresh_token=", "access_token=a.b.c",
			"access_token=eyJhbGciOiJub25lIn0.e30.", "refresh_token=k1.1.AAAA", "access_token=\xff\x00",
			"Bearer $ACCESS", "bearer  $ACCESS ", "Bearer $REFRESH", "Bearer", "Bearer x", "Basic $ACCESS",
			"access_token=" + strings.Repeat("A", 5000),
		} {
			f.Add(kind, s)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, header string) {
		e := newFuzzEnv(t)
		value := strings.NewReplacer("$ACCESS", e.access, "$REFRESH", e.refresh).Replace(header)
		kind %= 5
		method, path, name := http.MethodGet, "/me/", "Cookie"
		switch kind {
		case 1:
			name = "Authorization"
		case 2:
			method, path = http.MethodPost, "/refresh/"
		case 3:
			method, path = http.MethodPost, "/logout/"
		case 4:
			path = "/sessions/"
		}
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set(name, value)
		// What the server reads, as it reads it: a Bearer token wins.
		access, refresh := "", ""
		if a := req.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") && strings.TrimSpace(a[7:]) != "" {
			access = strings.TrimSpace(a[7:])
		} else if c, err := req.Cookie("access_token"); err == nil && c.Value != "" {
			access = c.Value
		}
		if c, err := req.Cookie("refresh_token"); err == nil {
			refresh = c.Value
		}
		before := e.snapshot(t)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		what := method + " " + path + " " + name + ": " + strings.ToValidUTF8(header[:min(len(header), 200)], "?")
		code := checkAnswer(t, what, rec)
		var ok bool
		switch kind {
		case 2:
			ok = refresh == e.refresh
		case 3:
			ok = true // logout answers 200 whatever the tokens
		default:
			ok = access == e.access
		}
		if (rec.Code == http.StatusOK) != ok {
			t.Fatalf("%s: status %d (%s), want success=%v", what, rec.Code, rec.Body, ok)
		}
		if rec.Code >= 400 && rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d code %q, want 401", what, rec.Code, code)
		}
		// Only a genuine token ends (logout) or rotates (refresh) the
		// session; anything else, a refusal above all, changes nothing.
		changes := (kind == 3 && (access == e.access || refresh == e.refresh)) || (kind == 2 && ok)
		if !changes {
			if d := before.diff(e.snapshot(t)); d != "" {
				t.Fatalf("%s: answered %d, but %s", what, rec.Code, d)
			}
		}
	})
}

package authsys_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/store/memory"
)

// exampleParams are cheap argon2id parameters that keep the examples fast.
// Production code leaves Config.PasswordParams nil (OWASP's parameters).
var exampleParams = authsys.PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1}

func ExampleNew() {
	key := make([]byte, 32) // in production: loaded from a secret store
	rand.Read(key)
	mem := memory.New() // one instance; use store/redis when several run

	auth, err := authsys.New(authsys.Config{
		Keys:  authsys.Keys{Signing: authsys.Key{Secret: key}},
		Users: mem,
		// or postgres.New(pool), sqlite.Open(path), your own UserStore
		Pending: mem,
		Mailer:  &mail.Console{W: io.Discard},
		// in production: an SMTP mailer
		Links: authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:  authsys.Mail{From: "noreply@example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = auth

	// A bad Config is refused with an error naming the field.
	_, err = authsys.New(authsys.Config{
		Keys: authsys.Keys{Signing: authsys.Key{Secret: []byte("too short")}},
	})
	var ce *authsys.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Field)
	}
	// Output:
	// Keys.Signing.Secret
}

func ExampleAuth_Handler() {
	mem := memory.New()
	outbox := &mail.Outbox{}
	auth, err := authsys.New(authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:     mem,
		Pending:   mem,
		Mailer:    outbox,
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: exampleParams},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	post := func(path, body string) {
		res, err := browser.Post(srv.URL+"/api/auth"+path, "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
		fmt.Println("POST", path, res.StatusCode)
	}

	post("/signup/", `{"email": "jane@example.com", "password": "correct horse battery staple"}`)
	// The verification mail links to the frontend, whose page posts the
	// link's uid and token back.
	auth.Shutdown(context.Background()) // wait for the mail
	msg, _ := outbox.Last("jane@example.com")
	link, _ := url.Parse(msg.Links[0])
	fmt.Println(link.Host + link.Path)
	post("/verify-account/", fmt.Sprintf(`{"uid": %q, "token": %q}`, link.Query().Get("uid"), link.Query().Get("token")))
	post("/login/", `{"email": "jane@example.com", "password": "correct horse battery staple"}`)

	res, err := browser.Get(srv.URL + "/api/auth/me/")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var me struct {
		User struct {
			Email    string `json:"email"`
			IsActive bool   `json:"is_active"`
		} `json:"user"`
	}
	json.NewDecoder(res.Body).Decode(&me)
	fmt.Println("GET /me/", res.StatusCode, me.User.Email, me.User.IsActive)
	// Output:
	// POST /signup/ 201
	// app.example.com/verify-account
	// POST /verify-account/ 200
	// POST /login/ 200
	// GET /me/ 200 jane@example.com true
}

func ExampleAuth_Middleware() {
	mem := memory.New()
	auth, err := authsys.New(authsys.Config{
		Keys:    authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:   mem,
		Pending: mem,
		Mailer:  &mail.Outbox{},
		Links:   authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:    authsys.Mail{From: "noreply@example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the orders")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /api/orders", auth.Middleware(orders))

	// Without a valid access token cookie the handler never runs.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders", nil))
	var problem struct{ Code string }
	json.Unmarshal(rec.Body.Bytes(), &problem)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), problem.Code)
	// Output:
	// 401 application/problem+json not_authenticated
}

func ExampleUserFromContext() {
	mem := memory.New()
	outbox := &mail.Outbox{}
	auth, err := authsys.New(authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:     mem,
		Pending:   mem,
		Mailer:    outbox,
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: exampleParams},
	})
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := authsys.UserFromContext(r.Context()) // set by Middleware
		if !ok {
			http.Error(w, "not behind Middleware", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello %s", user.Email)
	})
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.Handler()))
	mux.Handle("GET /api/hello", auth.Middleware(hello))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Sign up, verify through the mailed link and log in, as a browser.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	creds := `{"email": "jane@example.com", "password": "correct horse battery staple"}`
	browser.Post(srv.URL+"/api/auth/signup/", "application/json", strings.NewReader(creds))
	auth.Shutdown(context.Background())
	msg, _ := outbox.Last("jane@example.com")
	link, _ := url.Parse(msg.Links[0])
	browser.Get(srv.URL + "/api/auth/verify-account/?" + link.RawQuery)
	browser.Post(srv.URL+"/api/auth/login/", "application/json", strings.NewReader(creds))

	res, err := browser.Get(srv.URL + "/api/hello")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(string(body))

	// Outside Middleware there is no user.
	_, ok := authsys.UserFromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// hello jane@example.com
	// false
}

// mapStore is an application's own UserStore: here a map behind a mutex,
// in practice the application's database. Prove an implementation with
// storetest.RunUserStore(t, newStore) in a test.
type mapStore struct {
	mu     sync.Mutex
	byID   map[string]store.User
	nextID int
}

var _ authsys.UserStore = (*mapStore)(nil)

func (s *mapStore) CreateUser(_ context.Context, u store.User) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.byID {
		if x.Email == store.NormalizeEmail(u.Email) {
			return store.User{}, store.ErrEmailTaken
		}
	}
	if s.byID == nil {
		s.byID = map[string]store.User{}
	}
	s.nextID++
	if u.ID == "" {
		u.ID = fmt.Sprintf("user-%d", s.nextID)
	}
	u.Email = store.NormalizeEmail(u.Email)
	s.byID[u.ID] = u.Clone()
	return u.Clone(), nil
}

func (s *mapStore) UserByID(_ context.Context, id string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u.Clone(), nil
}

func (s *mapStore) UserByEmail(_ context.Context, email string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.byID {
		if u.Email == store.NormalizeEmail(email) {
			return u.Clone(), nil
		}
	}
	return store.User{}, store.ErrNotFound
}

// UpdateUser holds the lock across fn: the read-modify-write is atomic.
func (s *mapStore) UpdateUser(_ context.Context, id string, fn func(*store.User) error) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	u = u.Clone()
	if err := fn(&u); err != nil {
		return store.User{}, err
	}
	u.Email = store.NormalizeEmail(u.Email)
	for xid, x := range s.byID {
		if xid != id && x.Email == u.Email {
			return store.User{}, store.ErrEmailTaken
		}
	}
	s.byID[id] = u.Clone()
	return u, nil
}

func Example_customUserStore() {
	users := &mapStore{}
	auth, err := authsys.New(authsys.Config{
		Keys:  authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users: users,
		// the application's own accounts
		Pending: memory.New(),
		// short-lived state stays in a PendingStore
		Mailer:    &mail.Outbox{},
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: exampleParams},
	})
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/signup/", strings.NewReader(`{"email": "Jane@Example.com", "password": "correct horse battery staple"}`))
	req.Header.Set("Content-Type", "application/json")
	auth.Handler().ServeHTTP(rec, req)
	auth.Shutdown(context.Background())

	u, err := users.UserByEmail(context.Background(), "jane@example.com")
	fmt.Println(rec.Code, u.ID, u.Email, u.IsActive, err)
	// Output:
	// 201 user-1 jane@example.com false <nil>
}

// exampleAuth returns an Auth on a memory store for the examples, and the
// store.
func exampleAuth(hooks authsys.Hooks) (*authsys.Auth, *memory.Store) {
	mem := memory.New()
	auth, err := authsys.New(authsys.Config{
		Keys:      authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:     mem,
		Pending:   mem,
		Mailer:    &mail.Outbox{},
		Links:     authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:      authsys.Mail{From: "noreply@example.com"},
		Passwords: authsys.Passwords{Params: exampleParams},
		Hooks:     hooks,
	})
	if err != nil {
		log.Fatal(err)
	}
	return auth, mem
}

func ExampleAuth_Authenticate() {
	auth, _ := exampleAuth(authsys.Hooks{})

	// A handler that answers in its own format decides for itself what an
	// anonymous request gets: Authenticate writes nothing.
	whoami := func(r *http.Request) string {
		user, err := auth.Authenticate(r)
		var p *authsys.Problem
		switch {
		case errors.As(err, &p): // not authenticated: no token, or a bad one
			return fmt.Sprintf("%d %s", p.Status, p.Code)
		case errors.Is(err, store.ErrUnavailable): // the store is down
			return "try again later"
		case err != nil:
			return "error"
		}
		return user.Email
	}

	fmt.Println(whoami(httptest.NewRequest(http.MethodGet, "/api/whoami", nil)))
	r := httptest.NewRequest(http.MethodGet, "/api/whoami", nil)
	r.AddCookie(&http.Cookie{Name: "access_token", Value: "not-a-token"})
	fmt.Println(whoami(r))
	// Output:
	// 401 not_authenticated
	// 401 invalid_token
}

func ExampleAuth_OptionalMiddleware() {
	auth, _ := exampleAuth(authsys.Hooks{})
	home := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, ok := authsys.UserFromContext(r.Context()); ok {
			fmt.Fprintf(w, "welcome back, %s", user.Email)
			return
		}
		fmt.Fprint(w, "welcome, guest")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", auth.OptionalMiddleware(home))

	// Anonymous requests, and requests with an invalid token, get the
	// page too, without a user.
	for _, cookie := range []string{"", "access_token=expired-or-forged"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 200 welcome, guest
	// 200 welcome, guest
}

func ExampleAuth_AdminAction() {
	auth, mem := exampleAuth(authsys.Hooks{
		OnEvent: func(ev authsys.Event) {
			if ev.Kind == authsys.EventAdminAction {
				fmt.Println("event:", ev.Kind, ev.Reason, "by", ev.ActorID)
			}
		},
	})
	ctx := context.Background()
	// An account that never verified its email.
	u, err := mem.CreateUser(ctx, store.User{Email: "jane@example.com"})
	if err != nil {
		log.Fatal(err)
	}

	// An operator's command-line tool activates it.
	u, err = auth.AdminAction(ctx, "cli:alice", u.ID, authsys.AdminActivate)
	fmt.Println(u.Email, u.IsActive, err)

	_, err = auth.AdminAction(ctx, "cli:alice", u.ID, "promote")
	fmt.Println(errors.Is(err, authsys.ErrUnknownAdminAction))
	_, err = auth.AdminAction(ctx, "cli:alice", "no-such-user", authsys.AdminRevokeSessions)
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// event: admin_action activate by cli:alice
	// jane@example.com true <nil>
	// true
	// true
}

func ExampleLocales() {
	mem := memory.New()
	auth, err := authsys.New(authsys.Config{
		Keys:    authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:   mem,
		Pending: mem,
		Mailer:  &mail.Console{W: io.Discard},
		Links:   authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:    authsys.Mail{From: "noreply@example.com"},
		Locales: authsys.Locales{
			// Translate the keys of authsys.DefaultMessages(); a key left
			// out is said in English.
			Messages: map[string]map[string]string{"fr": {
				"login.invalid_credentials": "Adresse e-mail ou mot de passe invalide.",
				"logout.done":               "Déconnecté.",
			}},
			// The language of a signed-in user, when the application keeps
			// one; "" leaves the choice to Accept-Language.
			Locale: func(r *http.Request, a authsys.Account) string {
				lang, _ := a.Profile["lang"].(string)
				return lang
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/api/auth", auth.Handler()))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/auth/logout/", nil)
	req.Header.Set("Accept-Language", "fr-CA, en;q=0.5")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Print(res.Header.Get("Content-Language"), " ", string(body))
	// Output:
	// fr {"message":"Déconnecté.","code":"logout.done"}
}

// CrossOrigin gives an application route the API's CORS and CSRF handling
// for an SPA served from another origin (HTTP.TrustedOrigins).
func ExampleAuth_CrossOrigin() {
	mem := memory.New()
	auth, err := authsys.New(authsys.Config{
		Keys:    authsys.Keys{Signing: authsys.Key{Secret: []byte("an example signing key of 32+ bytes")}},
		Users:   mem,
		Pending: mem,
		Mailer:  &mail.Outbox{},
		Links:   authsys.Links{FrontendURL: "https://app.example.com"},
		Mail:    authsys.Mail{From: "noreply@example.com"},
		HTTP:    authsys.HTTP{TrustedOrigins: []string{"https://app.example.com"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	orders := auth.CrossOrigin(auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the orders")
	})))
	mux := http.NewServeMux()
	mux.Handle("GET /api/orders", orders)
	mux.Handle("OPTIONS /api/orders", orders) // CORS preflights

	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/api/orders", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", http.MethodGet)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		return rec
	}
	ok := preflight("https://app.example.com")
	fmt.Println(ok.Code, ok.Header().Get("Access-Control-Allow-Origin"), ok.Header().Get("Access-Control-Allow-Credentials"))
	refused := preflight("https://app.example.com.evil.test")
	fmt.Println(refused.Code, refused.Header().Get("Content-Type"), refused.Header().Get("Access-Control-Allow-Origin") == "")
	// Output:
	// 204 https://app.example.com true
	// 403 application/problem+json true
}

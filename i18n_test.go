package authsys_test

// Languages: the catalogs of messages (Config.Locales.Messages), the choice
// of a request's language (Accept-Language, the Locale hook), per-language
// email templates, and the validation of all of it.

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

// i18nFrench is a partial French catalog: keys it lacks are said in
// English.
var i18nFrench = map[string]string{
	"login.invalid_credentials": "Adresse e-mail ou mot de passe invalide.",
	"request.invalid_fields":    "La requête contient des champs invalides.",
	"request.unknown_field":     "Champ inconnu {field}.",
	"field.required":            "Ce champ est obligatoire.",
	"field.password_too_short":  "Ce mot de passe est trop court. Il doit contenir au moins {min} caractères.",
	"signup.check_email":        "Consultez vos e-mails pour vérifier votre compte.",
	"logout.done":               "Déconnecté.",
	"logout.all":                "Déconnecté de toutes les sessions.",
	"duration.days":             "{n} jours",
}

// i18nEnv is newEnv with the French catalog.
func i18nEnv(t *testing.T, mutate ...func(*authsys.Config)) *env {
	t.Helper()
	return newEnv(t, append([]func(*authsys.Config){func(c *authsys.Config) {
		c.Locales.Messages = map[string]map[string]string{"fr": i18nFrench}
	}}, mutate...)...)
}

// i18nProblem is a problem body as a client reads it.
type i18nProblem struct {
	Code   string
	Detail string
	Errors map[string][]authsys.FieldError
}

func i18nDecode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return v
}

// i18nLanguage checks r's Content-Language: want, or none for "".
func i18nLanguage(t *testing.T, what string, r response, want string) {
	t.Helper()
	if got := r.Header.Get("Content-Language"); got != want {
		t.Errorf("%s: got Content-Language %q, want %q", what, got, want)
	}
}

// TestI18nAcceptLanguage checks that Accept-Language picks the French
// catalog for a problem detail, the field error messages (placeholders
// filled) and a success message, with the codes unchanged; that a key the
// catalog lacks is said in English; and that a language without a catalog,
// or none asked for, gets English without Content-Language.
func TestI18nAcceptLanguage(t *testing.T) {
	e := i18nEnv(t)
	e.signupVerified("user@example.com", goodPassword)
	c := e.client()

	for _, accept := range []string{"fr", "fr-CH, fr;q=0.9, en;q=0.8", "de, fr;q=0.5", "fr-CA"} {
		r := c.post("/login/", map[string]string{"email": "user@example.com", "password": "wrong password"}, "Accept-Language", accept)
		expect(t, r, http.StatusUnauthorized, "invalid_credentials")
		if p := i18nDecode[i18nProblem](t, r); p.Detail != i18nFrench["login.invalid_credentials"] {
			t.Errorf("Accept-Language %q: got detail %q, want the French one", accept, p.Detail)
		}
		i18nLanguage(t, accept, r, "fr")
	}

	r := c.post("/signup/", map[string]string{"email": " ", "password": "short"}, "Accept-Language", "fr")
	expect(t, r, http.StatusBadRequest, "validation_failed")
	p := i18nDecode[i18nProblem](t, r)
	want := map[string][]authsys.FieldError{
		"email":    {{Code: "required", Message: "Ce champ est obligatoire."}},
		"password": {{Code: "password_too_short", Message: "Ce mot de passe est trop court. Il doit contenir au moins 8 caractères."}},
	}
	if p.Detail != i18nFrench["request.invalid_fields"] || !maps.EqualFunc(p.Errors, want, func(a, b []authsys.FieldError) bool { return len(a) == 1 && len(b) == 1 && a[0] == b[0] }) {
		t.Errorf("field errors: got %q %v, want the French detail and %v", p.Detail, p.Errors, want)
	}
	i18nLanguage(t, "field errors", r, "fr")

	r = c.post("/login/", map[string]any{"email": "user@example.com", "password": "x", "remember": true}, "Accept-Language", "fr")
	expect(t, r, http.StatusBadRequest, "invalid_json")
	if p := i18nDecode[i18nProblem](t, r); p.Detail != `Champ inconnu "remember".` {
		t.Errorf("unknown field: got detail %q, want the French one with the field's name", p.Detail)
	}

	r = c.post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, "Accept-Language", "fr")
	expect(t, r, http.StatusCreated, "")
	if m := i18nDecode[map[string]string](t, r); m["message"] != i18nFrench["signup.check_email"] || m["code"] != "signup.check_email" {
		t.Errorf("signup: got %v, want the French message with code signup.check_email", m)
	}
	i18nLanguage(t, "signup", r, "fr")

	// A key the French catalog lacks is said in English, without
	// Content-Language.
	r = c.get("/me/", "Accept-Language", "fr")
	expect(t, r, http.StatusUnauthorized, "not_authenticated")
	if p := i18nDecode[i18nProblem](t, r); p.Detail != authsys.DefaultMessages()["auth.not_authenticated"] {
		t.Errorf("missing key: got detail %q, want the English one", p.Detail)
	}
	i18nLanguage(t, "missing key", r, "")
	r = c.post("/password-reset/", map[string]string{"email": "user@example.com"}, "Accept-Language", "fr")
	expect(t, r, http.StatusOK, "")
	if m := i18nDecode[map[string]string](t, r); m["message"] != authsys.DefaultMessages()["password.reset_sent"] || m["code"] != "password.reset_sent" {
		t.Errorf("missing success key: got %v, want the English message", m)
	}
	i18nLanguage(t, "missing success key", r, "")
	r = c.post("/signup/", map[string]string{"email": "not-an-address", "password": goodPassword}, "Accept-Language", "fr")
	expect(t, r, http.StatusBadRequest, "validation_failed")
	if p := i18nDecode[i18nProblem](t, r); len(p.Errors["email"]) != 1 || p.Errors["email"][0] != (authsys.FieldError{Code: "invalid_email", Message: "Enter a valid email address."}) || p.Detail != i18nFrench["request.invalid_fields"] {
		t.Errorf("missing field key: got %q %v, want the French detail and the English field message", p.Detail, p.Errors)
	}

	// A language without a catalog, English itself, or none: English.
	for _, accept := range []string{"de", "en-US, fr;q=0.5", "", "garbage;;q=x"} {
		r := c.post("/login/", map[string]string{"email": "user@example.com", "password": "wrong password"}, "Accept-Language", accept)
		expect(t, r, http.StatusUnauthorized, "invalid_credentials")
		if p := i18nDecode[i18nProblem](t, r); p.Detail != "Invalid email or password." {
			t.Errorf("Accept-Language %q: got detail %q, want the English one", accept, p.Detail)
		}
		i18nLanguage(t, accept, r, "")
	}

	lc := e.loggedIn("user@example.com", goodPassword)
	r = lc.post("/logout/", nil, "Accept-Language", "fr")
	expect(t, r, http.StatusOK, "")
	if m := i18nDecode[map[string]string](t, r); m["message"] != "Déconnecté." || m["code"] != "logout.done" {
		t.Errorf("logout: got %v, want the French message with code logout.done", m)
	}
	lc = e.loggedIn("user@example.com", goodPassword)
	r = lc.post("/logout/", nil, "Accept-Language", "de")
	if m := i18nDecode[map[string]string](t, r); m["message"] != "Logged out." || m["code"] != "logout.done" {
		t.Errorf("logout in German: got %v, want the English message with code logout.done", m)
	}
	i18nLanguage(t, "logout in German", r, "")
}

// TestI18nLocaleHook checks that the Locale hook chooses over
// Accept-Language, for an authenticated user (whose account it is given)
// in problems and success messages alike, and that an empty answer (here,
// for anonymous requests, which it gets the zero Account for) leaves the
// choice to Accept-Language.
func TestI18nLocaleHook(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{} // IDs of the accounts the hook was given
	e := i18nEnv(t, func(c *authsys.Config) {
		c.Locales.Locale = func(r *http.Request, a authsys.Account) string {
			mu.Lock()
			seen[a.ID] = true
			mu.Unlock()
			lang, _ := a.Profile["lang"].(string)
			return lang
		}
	})
	e.signupVerified("fr@example.com", goodPassword)
	e.signupVerified("en@example.com", goodPassword)
	coreSetUser(e, "fr@example.com", func(u *authsys.User) { u.Profile = map[string]any{"lang": "fr-BE"} })
	coreSetUser(e, "en@example.com", func(u *authsys.User) { u.Profile = map[string]any{"lang": "en"} })

	fr := e.loggedIn("fr@example.com", goodPassword)
	r := fr.post("/change-password/", map[string]string{"current_password": "", "new_password": "short"}, "Accept-Language", "en")
	expect(t, r, http.StatusBadRequest, "validation_failed")
	if p := i18nDecode[i18nProblem](t, r); p.Errors["current_password"][0].Message != "Ce champ est obligatoire." || p.Detail != i18nFrench["request.invalid_fields"] {
		t.Errorf("French user, English browser: got %q %v, want French", p.Detail, p.Errors)
	}
	i18nLanguage(t, "French user", r, "fr")
	r = fr.post("/logout-all/", nil, "Accept-Language", "en")
	expect(t, r, http.StatusOK, "")
	if m := i18nDecode[map[string]string](t, r); m["message"] != i18nFrench["logout.all"] || m["code"] != "logout.all" {
		t.Errorf("French user's logout-all: got %v, want French", m)
	}

	en := e.loggedIn("en@example.com", goodPassword)
	r = en.post("/logout-all/", nil, "Accept-Language", "fr")
	if m := i18nDecode[map[string]string](t, r); m["message"] != "Logged out of every session." {
		t.Errorf("English user, French browser: got %v, want English", m)
	}
	i18nLanguage(t, "English user", r, "")

	r = e.client().post("/login/", map[string]string{"email": "x@example.com", "password": "wrong password"}, "Accept-Language", "fr")
	if p := i18nDecode[i18nProblem](t, r); p.Detail != i18nFrench["login.invalid_credentials"] {
		t.Errorf("anonymous, French browser: got %q, want French", p.Detail)
	}
	mu.Lock()
	defer mu.Unlock()
	if !seen[""] || !seen[coreUser(e, "fr@example.com").ID] {
		t.Errorf("the hook saw accounts %v, want the anonymous one and the French user's", seen)
	}
}

// TestI18nMail checks per-language email templates: the recipient's
// language picks them (Accept-Language for a request of their own, the
// Locale hook's answer for their account otherwise, here the notice sent
// to the old address after an email change, which is confirmed from an
// English browser), with ExpiresIn in that language; a kind the language
// has no template for uses Mail.Templates; and Data.User carries the
// account (its profile greets the user; the old address never sees the new
// one unmasked).
func TestI18nMail(t *testing.T) {
	e := i18nEnv(t, func(c *authsys.Config) {
		c.Mail.Templates = &mail.Templates{
			PasswordReset: mail.Template{Text: "Hello {{with .User.Profile.name}}{{.}}{{else}}{{.User.Email}}{{end}} ({{.User.ID}}, {{.Locale}}): {{.Link}}"},
		}
		c.Locales.Mail = map[string]*mail.Templates{"fr": {
			VerifyAccount: mail.Template{
				Subject: "{{.AppName}} : confirmez votre adresse",
				Text:    "Bonjour {{.User.Email}} ({{.Locale}}), ce lien expire dans {{.ExpiresIn}} : {{.Link}}",
			},
			EmailChangedNotice: mail.Template{
				Subject: "Votre adresse a changé",
				Text:    "Bonjour {{with .User.Profile.name}}{{.}}{{end}} <{{.User.Email}}>, la nouvelle adresse est {{.NewEmail}}.",
			},
		}}
		c.Locales.Locale = func(r *http.Request, a authsys.Account) string {
			lang, _ := a.Profile["lang"].(string)
			return lang
		}
	})
	c := e.client()
	expect(t, c.post("/signup/", map[string]string{"email": "marie@example.com", "password": goodPassword}, "Accept-Language", "fr"), http.StatusCreated, "")
	m := coreLastMail(e, "marie@example.com", mail.KindVerifyAccount)
	if m.Subject != "AuthSystem : confirmez votre adresse" || !strings.Contains(m.Text, "Bonjour marie@example.com (fr), ce lien expire dans 3 jours : https://") {
		t.Errorf("French verification mail: got %q %q, want the French template with the user, locale and duration", m.Subject, m.Text)
	}
	expect(t, c.post("/signup/", map[string]string{"email": "john@example.com", "password": goodPassword}, "Accept-Language", "en"), http.StatusCreated, "")
	if m := coreLastMail(e, "john@example.com", mail.KindVerifyAccount); !strings.Contains(m.Subject, "Confirm your email address") || !strings.Contains(m.Text, "expires in 3 days") {
		t.Errorf("English verification mail: got %q %q, want the built-in one", m.Subject, m.Text)
	}

	// No French PasswordReset: Mail.Templates', in the recipient's
	// language all the same (Locale), with the account and its profile.
	e.signupVerified("ada@example.com", goodPassword)
	ada := coreSetUser(e, "ada@example.com", func(u *authsys.User) { u.Profile = map[string]any{"name": "Ada", "lang": "fr"} })
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "ada@example.com"}, "Accept-Language", "en"), http.StatusOK, "")
	if m := coreLastMail(e, "ada@example.com", mail.KindPasswordReset); !strings.HasPrefix(m.Text, "Hello Ada ("+ada.ID+", fr): https://") {
		t.Errorf("password reset: got %q, want Mail.Templates' greeting Ada, in French", m.Text)
	}
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "john@example.com"}, "Accept-Language", "fr"), http.StatusOK, "")
	coreSetUser(e, "john@example.com", func(u *authsys.User) { u.IsActive, u.EmailVerified = true, true })
	expect(t, e.client().post("/password-reset/", map[string]string{"email": "john@example.com"}, "Accept-Language", "fr"), http.StatusOK, "")
	if m := coreLastMail(e, "john@example.com", mail.KindPasswordReset); !strings.HasPrefix(m.Text, "Hello john@example.com (") || !strings.Contains(m.Text, ", fr): ") {
		t.Errorf("password reset without a profile: got %q, want a greeting by email, in French", m.Text)
	}

	// The notice to the old address after an email change: the account's
	// language, whatever the confirming browser's; User.Email is the old
	// address.
	lc := e.loggedIn("ada@example.com", goodPassword)
	expect(t, lc.post("/change-email/", map[string]string{"new_email": "ada.new@example.com", "password": goodPassword}), http.StatusOK, "")
	q := linkParams(t, coreLastMail(e, "ada.new@example.com", mail.KindEmailChangeConfirm))
	expect(t, e.client().post("/change-email-confirm/", map[string]string{"token": q.Get("token")}, "Accept-Language", "en"), http.StatusOK, "")
	n := coreLastMail(e, "ada@example.com", mail.KindEmailChangedNotice)
	if n.Subject != "Votre adresse a changé" || n.Text != "Bonjour Ada <ada@example.com>, la nouvelle adresse est a***@example.com." {
		t.Errorf("notice to the old address: got %q %q, want the French template, the old address and the new one masked", n.Subject, n.Text)
	}
}

// TestI18nRenderProblem checks that Hooks.RenderProblem gets the detail in
// the request's language with its key, and that Content-Language is set
// before it writes.
func TestI18nRenderProblem(t *testing.T) {
	e := i18nEnv(t, func(c *authsys.Config) {
		c.Hooks.RenderProblem = func(w http.ResponseWriter, r *http.Request, p *authsys.Problem) {
			w.Header().Set("Content-Type", "application/vnd.app.error+json")
			w.WriteHeader(p.Status)
			json.NewEncoder(w).Encode(map[string]any{"code": p.Code, "detail": p.Detail, "key": p.DetailKey})
		}
	})
	// Not through the harness: the custom format is not the document's.
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/auth/login/", strings.NewReader(`{"email":"x@example.com","password":"wrong password"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", "fr")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusUnauthorized || v["code"] != "invalid_credentials" || v["detail"] != i18nFrench["login.invalid_credentials"] || v["key"] != "login.invalid_credentials" {
		t.Errorf("got %d %v, want 401 with the French detail and its key", res.StatusCode, v)
	}
	if got := res.Header.Get("Content-Language"); got != "fr" {
		t.Errorf("got Content-Language %q, want fr", got)
	}
}

// TestI18nConcurrent renders the same problems in two languages at once:
// the shared problem values must not be changed by rendering (run with
// -race).
func TestI18nConcurrent(t *testing.T) {
	e := i18nEnv(t)
	langs := []string{"fr", "en"}
	want := map[string]string{"fr": i18nFrench["login.invalid_credentials"], "en": "Invalid email or password."}
	wantField := map[string]string{"fr": "Ce champ est obligatoire.", "en": "This field is required."}
	rs := coreParallel(16, func(i int) response {
		body := map[string]string{"email": "x@example.com", "password": "wrong password"}
		if i%4 >= 2 {
			body["email"] = ""
		}
		return e.client().post("/login/", body, "Accept-Language", langs[i%2])
	})
	for i, r := range rs {
		p := i18nDecode[i18nProblem](t, r)
		lang := langs[i%2]
		if i%4 >= 2 {
			if got := p.Errors["email"]; len(got) != 1 || got[0].Message != wantField[lang] {
				t.Errorf("request %d (%s): got %v, want %q", i, lang, got, wantField[lang])
			}
		} else if p.Detail != want[lang] {
			t.Errorf("request %d (%s): got %q, want %q", i, lang, p.Detail, want[lang])
		}
	}
}

// TestDefaultMessages checks the catalog handed to translators: a copy,
// with every key's English text, which New accepts back as a translation.
func TestDefaultMessages(t *testing.T) {
	m := authsys.DefaultMessages()
	if m["login.invalid_credentials"] != "Invalid email or password." || m["field.password_too_short"] == "" || m["logout.done"] != "Logged out." {
		t.Fatalf("got %d messages without the expected keys", len(m))
	}
	for k, v := range m {
		if strings.TrimSpace(v) == "" {
			t.Errorf("key %q has an empty text", k)
		}
	}
	m["login.invalid_credentials"] = "changed"
	if authsys.DefaultMessages()["login.invalid_credentials"] != "Invalid email or password." {
		t.Error("changing the returned map changed the catalog")
	}
	cfg := coreValidConfig()
	cfg.Locales.Messages = map[string]map[string]string{"fr": authsys.DefaultMessages(), "en": authsys.DefaultMessages()}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the catalog as a translation: got %v, want valid", err)
	}
}

// TestI18nConfig checks the validation of Config.Locales: each error names
// the field at fault.
func TestI18nConfig(t *testing.T) {
	tpl := &mail.Templates{VerifyAccount: mail.Template{Subject: "Confirmez"}}
	for _, tc := range []struct {
		name    string
		locales authsys.Locales
		field   string // "" for valid
	}{
		{"french", authsys.Locales{Messages: map[string]map[string]string{"fr": i18nFrench}, Mail: map[string]*mail.Templates{"fr": tpl}}, ""},
		{"mail only", authsys.Locales{Mail: map[string]*mail.Templates{"pt-BR": tpl}}, ""},
		{"own field code", authsys.Locales{Messages: map[string]map[string]string{
			"en": {"field.name_taken": "This name is taken.", "login.invalid_credentials": "Wrong email or password."},
			"fr": {"field.name_taken": "Ce nom est pris."},
		}}, ""},
		{"unknown key", authsys.Locales{Messages: map[string]map[string]string{"fr": {"login.invalid_credentails": "x"}}}, `Locales.Messages["fr"]["login.invalid_credentails"]`},
		{"undeclared field code", authsys.Locales{Messages: map[string]map[string]string{"fr": {"field.name_taken": "Ce nom est pris."}}}, `Locales.Messages["fr"]["field.name_taken"]`},
		{"unknown English key", authsys.Locales{Messages: map[string]map[string]string{"en": {"login.welcome": "Hi"}}}, `Locales.Messages["en"]["login.welcome"]`},
		{"bad field code", authsys.Locales{Messages: map[string]map[string]string{"en": {"field.Name Taken": "x"}}}, `Locales.Messages["en"]["field.Name Taken"]`},
		{"bad tag", authsys.Locales{Messages: map[string]map[string]string{"french!": {"logout.done": "x"}}}, `Locales.Messages["french!"]`},
		{"same language twice", authsys.Locales{Messages: map[string]map[string]string{"fr": {}, "FR": {}}}, `Locales.Messages["fr"]`},
		{"missing placeholder", authsys.Locales{Messages: map[string]map[string]string{"fr": {"field.password_too_short": "Trop court."}}}, `Locales.Messages["fr"]["field.password_too_short"]`},
		{"other placeholder", authsys.Locales{Messages: map[string]map[string]string{"fr": {"duration.days": "{count} jours"}}}, `Locales.Messages["fr"]["duration.days"]`},
		{"extra placeholder", authsys.Locales{Messages: map[string]map[string]string{"fr": {"logout.done": "Au revoir {name}."}}}, `Locales.Messages["fr"]["logout.done"]`},
		{"English placeholder", authsys.Locales{Messages: map[string]map[string]string{"en": {"field.too_long": "Too long."}}}, `Locales.Messages["en"]["field.too_long"]`},
		{"empty text", authsys.Locales{Messages: map[string]map[string]string{"fr": {"logout.done": " "}}}, `Locales.Messages["fr"]["logout.done"]`},
		{"English mail", authsys.Locales{Mail: map[string]*mail.Templates{"en": tpl}}, `Locales.Mail["en"]`},
		{"bad mail tag", authsys.Locales{Mail: map[string]*mail.Templates{"x y": tpl}}, `Locales.Mail["x y"]`},
		{"nil templates", authsys.Locales{Mail: map[string]*mail.Templates{"fr": nil}}, `Locales.Mail["fr"]`},
		{"broken template", authsys.Locales{Mail: map[string]*mail.Templates{"fr": {PasswordReset: mail.Template{Text: "{{.Nope}}"}}}}, `Locales.Mail["fr"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := coreValidConfig()
			cfg.Locales = tc.locales
			_, err := authsys.New(cfg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("got %v, want a valid config", err)
				}
				return
			}
			var ce *authsys.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("got %v, want a *ConfigError naming %s", err, tc.field)
			}
		})
	}
}

// TestI18nHookFieldErrors: a field error a hook returns without a message
// is said in the request's language: the application's own code as it
// declared it in Locales.Messages, a library code with its placeholders
// filled, an undeclared code with the generic text.
func TestI18nHookFieldErrors(t *testing.T) {
	var code atomic.Value
	e := i18nEnv(t, func(c *authsys.Config) {
		c.Locales.Messages["en"] = map[string]string{"field.name_taken": "This name is taken."}
		c.Locales.Messages["fr"] = maps.Clone(i18nFrench)
		c.Locales.Messages["fr"]["field.name_taken"] = "Ce nom est pris."
		c.Hooks.BeforeSignup = func(r *http.Request, s authsys.Signup) error {
			return &authsys.FieldError{Code: code.Load().(string)}
		}
	})
	for _, tc := range []struct {
		code, lang, want string
	}{
		{"name_taken", "fr", "Ce nom est pris."},
		{"name_taken", "en", "This name is taken."},
		{"too_long", "en", "Enter at most 254 characters."},
		{"password_too_short", "en", "This password is too short. It must contain at least 8 characters."},
		{"never_declared", "en", "This value cannot be used."},
	} {
		code.Store(tc.code)
		r := e.client().post("/signup/", map[string]string{"email": "new@example.com", "password": goodPassword}, "Accept-Language", tc.lang)
		expect(t, r, http.StatusBadRequest, "validation_failed")
		p := i18nDecode[i18nProblem](t, r)
		if got := p.Errors["email"]; len(got) != 1 || got[0].Code != tc.code || got[0].Message != tc.want {
			t.Errorf("%s in %s: got %v, want {%s %q}", tc.code, tc.lang, got, tc.code, tc.want)
		}
	}
}

package server

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"golang.org/x/text/language"

	"github.com/authsys-go/authsys/handlers"
)

// TestLocalizeProblem checks which parts of a problem are translated: the
// detail of a catalog key and the library's own field messages are; an
// application's field error keeps its message, unless it left it empty,
// when the catalog's text of its code (declared by the application) is
// used; an application's detail stays; the problem given is not changed.
func TestLocalizeProblem(t *testing.T) {
	l := Locales{Messages: map[string]map[string]string{
		"en": {"field.name_taken": "This name is taken."},
		"fr": {
			"field.name_taken":       "Ce nom est pris.",
			"field.required":         "Ce champ est obligatoire.",
			"request.invalid_fields": "Champs invalides.",
			"request.field_refused":  "Ce champ est refusé.",
		},
	}}
	if f, why := CheckLocales(l); f != "" {
		t.Fatalf("CheckLocales: %s %s", f, why)
	}
	loc := newLocales(l)
	fr := loc.match(mustTags(t, "fr")...)
	if loc.name(fr) != "fr" {
		t.Fatalf("got language %q for fr", loc.name(fr))
	}
	p := fieldProblem(fields{
		"name":  {{Code: "name_taken"}},
		"email": {fieldError(fieldRequired)},
		"nick":  {{Code: fieldRequired, Message: "Pick a nickname."}},
		"other": {{Code: "unknown_code"}},
	})
	before := *p
	beforeErrs := map[string][]handlers.FieldError{}
	for k, v := range p.Errors {
		beforeErrs[k] = append([]handlers.FieldError(nil), v...)
	}
	got, translated := loc.problem(p, fr)
	want := map[string][]handlers.FieldError{
		"name":  {{Code: "name_taken", Message: "Ce nom est pris."}},
		"email": {{Code: fieldRequired, Message: "Ce champ est obligatoire."}},
		"nick":  {{Code: fieldRequired, Message: "Pick a nickname."}},
		"other": {{Code: "unknown_code", Message: "Ce champ est refusé."}},
	}
	if !translated || got.Detail != "Champs invalides." || !reflect.DeepEqual(got.Errors, want) {
		t.Errorf("French: got %v %q %v, want true, the French detail and %v", translated, got.Detail, got.Errors, want)
	}
	if p.Detail != before.Detail || !reflect.DeepEqual(p.Errors, beforeErrs) {
		t.Errorf("the problem given changed: %+v", p)
	}
	got, translated = loc.problem(p, langEnglish)
	if translated || got.Detail != "The request has invalid fields." || got.Errors["name"][0].Message != "This name is taken." {
		t.Errorf("English: got %v %q %v", translated, got.Detail, got.Errors)
	}
	own := &Problem{Status: 403, Code: handlers.CodeForbidden, Detail: "Invitation only."}
	if got, translated := loc.problem(own, fr); translated || got.Detail != "Invitation only." {
		t.Errorf("an application's problem: got %v %q, want its own detail", translated, got.Detail)
	}
}

// TestPickLanguage checks the choice of a language: the hook's answer when
// it gives one (matched, so a regional variant finds its language), else
// Accept-Language; English when nothing is close.
func TestPickLanguage(t *testing.T) {
	hookAnswer := ""
	loc := newLocales(Locales{
		Messages: map[string]map[string]string{"fr": {}, "pt-BR": {}},
		Locale:   func(*http.Request, handlers.Account) string { return hookAnswer },
	})
	for _, tc := range []struct{ hook, accept, want string }{
		{"", "fr", "fr"},
		{"", "pt-PT, en;q=0.1", "pt-BR"},
		{"", "de", "en"},
		{"", "", "en"},
		{"fr-CA", "en", "fr"},
		{"en", "fr", "en"},
		{"de", "fr", "en"},
		{"not a tag!", "fr", "fr"},
	} {
		hookAnswer = tc.hook
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Language", tc.accept)
		if got := loc.name(loc.pick(r, handlers.Account{})); got != tc.want {
			t.Errorf("hook %q, Accept-Language %q: got %q, want %q", tc.hook, tc.accept, got, tc.want)
		}
	}
}

func mustTags(t *testing.T, s ...string) []language.Tag {
	t.Helper()
	out := make([]language.Tag, len(s))
	for i, x := range s {
		tag, err := language.Parse(x)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = tag
	}
	return out
}

// TestUnknownKeySaysItself checks the safety net of a sentence passed
// where a key belongs (code merged before its message joined the catalog;
// TestCatalogKeys fails on it): the sentence is the detail, in every
// language.
func TestUnknownKeySaysItself(t *testing.T) {
	p := problem(400, handlers.CodeConflict, "Not in the catalog yet.")
	loc := newLocales(Locales{Messages: map[string]map[string]string{"fr": {}}})
	for _, l := range []lang{langEnglish, loc.match(mustTags(t, "fr")...)} {
		if got, translated := loc.problem(p, l); got.Detail != "Not in the catalog yet." || translated {
			t.Errorf("%s: got %q, %v; want the sentence, untranslated", loc.name(l), got.Detail, translated)
		}
	}
}

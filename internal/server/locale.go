package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/authsys-go/authsys/handlers"
	authmail "github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
)

// lang is a language of the API: an index into locales' tables, 0 for
// English.
type lang int

// langEnglish is English, always language 0.
const langEnglish lang = 0

// locales are the languages of an Auth: the built-in English (with the
// application's overrides) and those the application added.
type locales struct {
	hook    func(*http.Request, handlers.Account) string
	matcher language.Matcher
	// names are the tags, as sent in Content-Language and mail.Data.Locale.
	names []string
	// texts are each language's catalog; texts[0] is English with the
	// application's overrides, the fallback of every other.
	texts []map[string]string
	// mail are each language's email templates; nil: Mail.Templates.
	mail []*authmail.Templates
}

// newLocales builds the languages of l (validated by CheckLocales).
func newLocales(l Locales) *locales {
	loc := &locales{hook: l.Locale}
	byTag := map[language.Tag]lang{language.English: langEnglish}
	tags := []language.Tag{language.English}
	loc.names = []string{language.English.String()}
	loc.texts = []map[string]string{maps.Clone(english)}
	loc.mail = []*authmail.Templates{nil}
	var added []language.Tag
	for _, s := range slices.Concat(slices.Collect(maps.Keys(l.Messages)), slices.Collect(maps.Keys(l.Mail))) {
		t, err := language.Parse(s)
		if err != nil || t == language.English || slices.Contains(added, t) {
			continue
		}
		added = append(added, t)
	}
	slices.SortFunc(added, func(a, b language.Tag) int { return strings.Compare(a.String(), b.String()) })
	for _, t := range added {
		byTag[t] = lang(len(tags))
		tags = append(tags, t)
		loc.names = append(loc.names, t.String())
		loc.texts = append(loc.texts, map[string]string{})
		loc.mail = append(loc.mail, nil)
	}
	for s, texts := range l.Messages {
		if t, err := language.Parse(s); err == nil {
			maps.Copy(loc.texts[byTag[t]], texts)
		}
	}
	for s, tpl := range l.Mail {
		if t, err := language.Parse(s); err == nil && t != language.English {
			loc.mail[byTag[t]] = tpl
		}
	}
	loc.matcher = language.NewMatcher(tags)
	return loc
}

// name returns the tag of l, e.g. "fr".
func (loc *locales) name(l lang) string { return loc.names[l] }

// match returns the configured language closest to tags, English when
// none is close.
func (loc *locales) match(tags ...language.Tag) lang {
	if len(tags) == 0 || len(loc.names) == 1 {
		return langEnglish
	}
	_, i, conf := loc.matcher.Match(tags...)
	if conf == language.No {
		return langEnglish
	}
	return lang(i)
}

// pick returns the language of what is said to the account a in answer to
// r (the zero Account for an anonymous request): the Locale hook's choice,
// else the best match of r's Accept-Language.
func (loc *locales) pick(r *http.Request, a handlers.Account) lang {
	if loc.hook != nil {
		if s := loc.hook(r, a); s != "" {
			t, err := language.Parse(s)
			if err == nil {
				return loc.match(t)
			}
		}
	}
	if len(loc.names) == 1 {
		return langEnglish
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil {
		return langEnglish
	}
	return loc.match(tags...)
}

// text renders the message key in l with args, falling back to English;
// own reports that l's own catalog (not English) supplied it. An unknown
// key gives "".
func (loc *locales) text(l lang, key string, args map[string]string) (s string, own bool) {
	if l != langEnglish {
		if t, ok := loc.texts[l][key]; ok {
			return format(t, args), true
		}
	}
	return format(loc.texts[langEnglish][key], args), false
}

// problem returns a copy of p with its detail and field error messages in
// l, and whether l's own catalog supplied any of them. A detail without a
// key (an application's problem) stays as it is; so does a field error
// message that is neither empty nor the library's English message for its
// code (an application's own message).
func (loc *locales) problem(p *Problem, l lang) (*Problem, bool) {
	q := *p
	translated := false
	if p.DetailKey != "" {
		if s, own := loc.text(l, p.DetailKey, p.DetailArgs); s != "" {
			q.Detail, translated = s, own
		}
	}
	if len(p.Errors) > 0 {
		q.Errors = make(map[string][]handlers.FieldError, len(p.Errors))
		for field, errs := range p.Errors {
			out := slices.Clone(errs)
			for i, fe := range out {
				key := fieldKeyPrefix + fe.Code
				if fe.Message != "" && fe.Message != englishText(key, fieldArgs[key]) {
					continue
				}
				if s, own := loc.text(l, key, fieldArgs[key]); s != "" {
					out[i].Message = s
					translated = translated || own
				} else if fe.Message == "" {
					// An application's own code without a message.
					out[i].Message, own = loc.text(l, "request.field_refused", nil)
					translated = translated || own
				}
			}
			q.Errors[field] = out
		}
	}
	return &q, translated
}

// duration says d in words in l, for mail.Data.ExpiresIn.
func (loc *locales) duration(l lang, d time.Duration) string {
	hrs := d.Hours()
	var s string
	switch {
	case hrs >= 48:
		s, _ = loc.text(l, "duration.days", map[string]string{"n": strconv.Itoa(int(hrs / 24))})
	case hrs >= 2:
		s, _ = loc.text(l, "duration.hours", map[string]string{"n": strconv.Itoa(int(hrs))})
	case hrs >= 1:
		s, _ = loc.text(l, "duration.hour", nil)
	default:
		s, _ = loc.text(l, "duration.minutes", map[string]string{"n": strconv.Itoa(int(hrs * 60))})
	}
	return s
}

// templates returns the templates that render a mail of kind in l: l's
// own when they define kind, else def (Mail.Templates).
func (loc *locales) templates(l lang, kind string, def *authmail.Templates) *authmail.Templates {
	if t := loc.mail[l]; t != nil && t.Defines(kind) {
		return t
	}
	return def
}

// reqAccountKey keys the request's *reqAccount in its context.
type reqAccountKey struct{}

// reqAccount is the user a request authenticated as, recorded by authed
// for the language of the answer, which serve writes with the request as
// it came in.
type reqAccount struct{ u *store.User }

// withReqAccount returns r with an empty reqAccount slot.
func withReqAccount(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), reqAccountKey{}, &reqAccount{}))
}

// setReqAccount records u as the user of r's answer.
func setReqAccount(r *http.Request, u store.User) {
	if ra, ok := r.Context().Value(reqAccountKey{}).(*reqAccount); ok {
		ra.u = &u
	}
}

// requestLang returns the language of r's answer: that of the user it
// authenticated as, or of an anonymous one.
func (h *Handlers) requestLang(r *http.Request) lang {
	if h.loc.hook == nil && len(h.loc.names) == 1 {
		return langEnglish
	}
	var a handlers.Account
	if ra, ok := r.Context().Value(reqAccountKey{}).(*reqAccount); ok && ra.u != nil && h.loc.hook != nil {
		a = h.publicUser(*ra.u)
	}
	return h.loc.pick(r, a)
}

// CheckLocales validates l and returns the field at fault (relative to the
// Locales group, e.g. `Messages["fr"]["login.invalid_credentials"]`) and
// why, or "" when l is valid: every tag a BCP 47 language tag and each
// language named once per map; every key of a translation one of the
// English catalog (or, in "en" itself, the key of an application's own
// field error code, "field.<code>"), with exactly the placeholders of its
// English text; no empty text; every mail template set valid, and none
// for English, whose templates are the Mail group's.
func CheckLocales(l Locales) (field, reason string) {
	msgTags, field, reason := parseTags("Messages", slices.Collect(maps.Keys(l.Messages)))
	if field != "" {
		return field, reason
	}
	// English first: an application's own field codes declared there are
	// keys the other languages may translate.
	en := maps.Clone(english)
	order := slices.Sorted(maps.Keys(l.Messages))
	for _, s := range order {
		if msgTags[s] != language.English {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(l.Messages[s])) {
			text := l.Messages[s][key]
			f := fmt.Sprintf("Messages[%q][%q]", s, key)
			base, known := english[key]
			switch {
			case !known && !strings.HasPrefix(key, fieldKeyPrefix):
				return f, "is not a message key (authsys.DefaultMessages lists them; an application's own field error codes go under \"field.<code>\")"
			case !known && !placeholderName(strings.TrimPrefix(key, fieldKeyPrefix)):
				return f, "is not \"field.\" followed by a field error code of lowercase letters, digits and underscores"
			case strings.TrimSpace(text) == "":
				return f, "is empty"
			case known && !slices.Equal(placeholders(text), placeholders(base)):
				return f, fmt.Sprintf("has the placeholders %v; the English text has %v", placeholders(text), placeholders(base))
			}
			en[key] = text
		}
	}
	for _, s := range order {
		if msgTags[s] == language.English {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(l.Messages[s])) {
			text := l.Messages[s][key]
			f := fmt.Sprintf("Messages[%q][%q]", s, key)
			base, known := en[key]
			switch {
			case !known:
				return f, "is not a message key (authsys.DefaultMessages lists them; an application's own field error codes are declared in Messages[\"en\"] first)"
			case strings.TrimSpace(text) == "":
				return f, "is empty"
			case !slices.Equal(placeholders(text), placeholders(base)):
				return f, fmt.Sprintf("has the placeholders %v; the English text has %v", placeholders(text), placeholders(base))
			}
		}
	}
	mailTags, field, reason := parseTags("Mail", slices.Collect(maps.Keys(l.Mail)))
	if field != "" {
		return field, reason
	}
	for _, s := range slices.Sorted(maps.Keys(l.Mail)) {
		f := fmt.Sprintf("Mail[%q]", s)
		switch {
		case mailTags[s] == language.English:
			return f, "is English, whose templates are Mail.Templates"
		case l.Mail[s] == nil:
			return f, "is nil"
		}
		if err := l.Mail[s].Validate(); err != nil {
			return f, err.Error()
		}
	}
	return "", ""
}

// parseTags parses the language tags of the map group, and reports the
// first that is not one, or names a language another names too.
func parseTags(group string, keys []string) (tags map[string]language.Tag, field, reason string) {
	tags = make(map[string]language.Tag, len(keys))
	by := map[language.Tag]string{}
	for _, s := range slices.Sorted(slices.Values(keys)) {
		f := fmt.Sprintf("%s[%q]", group, s)
		t, err := language.Parse(s)
		if err != nil || t == language.Und {
			return nil, f, "is not a BCP 47 language tag (e.g. \"fr\", \"pt-BR\")"
		}
		if prev, ok := by[t]; ok {
			return nil, f, fmt.Sprintf("names the language %s, as %q does", t, prev)
		}
		by[t] = s
		tags[s] = t
	}
	return tags, "", ""
}

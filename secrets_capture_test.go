package authsys_test

// The secrets check of the whole root test suite: every env (harness_test.go)
// sends its log records and events to a secretsCapture, and every call sent
// to an env's server through harnessSend (client.do, coreRaw, coreRawBody,
// tfaPost, rlPost and the other raw helpers), every mail read with waitMail
// and every cookie set with setCookie records the secrets it carried:
// passwords, one-time tokens, TOTP codes and secrets, backup codes,
// pending-session tokens, access and refresh tokens. A test fails at its
// cleanup if one of its own secrets appears in one of its own log records
// or events, and TestMain (secrets_main_test.go) fails the run if any
// secret recorded anywhere appears in any record captured anywhere,
// including records written after a test ended.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

// secretsMinLen is the shortest value treated as a secret; a TOTP code is
// six digits.
const secretsMinLen = 6

// secretsWordLen is the length under which a secret only counts when it
// stands alone (not inside a longer word), so that a six-digit code is not
// "found" inside a hex user ID or a timestamp.
const secretsWordLen = 12

// secretsRequestKeys are the JSON request members and query parameters
// that carry secrets; uid and email are not secret.
var secretsRequestKeys = map[string]bool{
	"password": true, "new_password": true, "current_password": true,
	"code": true, "token": true, "session_token": true,
	"access_token": true, "refresh_token": true,
}

// secretsResponseKeys are the JSON response members that carry secrets.
var secretsResponseKeys = map[string]bool{
	"session_token": true, "secret": true, "otpauth_url": true, "backup_codes": true,
	"token": true, "access_token": true, "refresh_token": true,
}

// secretsCapture is what one env logged and emitted, and the secrets its
// calls carried. It is safe for concurrent use.
type secretsCapture struct {
	name string

	mu      sync.Mutex
	records []string // one line per log record or event
	secrets map[string]bool
}

// secretsSuite is every capture of the run, for TestMain's final sweep.
var secretsSuite struct {
	mu       sync.Mutex
	captures []*secretsCapture
	extra    map[string]bool // secrets seen outside any env (linkParams)
}

func newSecretsCapture(name string) *secretsCapture {
	c := &secretsCapture{name: name, secrets: map[string]bool{}}
	secretsSuite.mu.Lock()
	secretsSuite.captures = append(secretsSuite.captures, c)
	secretsSuite.mu.Unlock()
	return c
}

// secretsAddExtra records a secret that no env saw (e.g. a mailed token
// read with linkParams from a message not fetched with waitMail).
func secretsAddExtra(s string) {
	s = strings.TrimSpace(s)
	if len(s) < secretsMinLen {
		return
	}
	secretsSuite.mu.Lock()
	if secretsSuite.extra == nil {
		secretsSuite.extra = map[string]bool{}
	}
	secretsSuite.extra[s] = true
	secretsSuite.mu.Unlock()
}

// add records s as a secret, with the normalized form of a backup code.
func (c *secretsCapture) add(s string) {
	s = strings.TrimSpace(s)
	if len(s) < secretsMinLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets[s] = true
	if strings.Contains(s, "-") && len(s) <= 16 {
		if n := strings.ToLower(strings.ReplaceAll(s, "-", "")); len(n) >= secretsMinLen {
			c.secrets[n] = true
		}
	}
}

// addRecord stores one captured line.
func (c *secretsCapture) addRecord(line string) {
	c.mu.Lock()
	c.records = append(c.records, line)
	c.mu.Unlock()
}

// recordCall records the secrets of one call: the secret members of a JSON
// request body, secret query parameters, a Bearer token, the token cookies
// the request carries (set by hand, not only from the jar), every cookie
// the response sets and the secret members of a JSON response body.
func (c *secretsCapture) recordCall(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	for k, vs := range req.URL.Query() {
		if secretsRequestKeys[k] {
			for _, v := range vs {
				c.add(v)
			}
		}
	}
	for _, ck := range req.Cookies() {
		if secretsRequestKeys[ck.Name] {
			c.add(ck.Value)
		}
	}
	if a := req.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		c.add(a[7:])
	}
	c.addJSON(reqBody, secretsRequestKeys)
	for _, ck := range res.Cookies() {
		c.add(ck.Value)
	}
	c.addJSON(resBody, secretsResponseKeys)
}

// addJSON records the string values (or arrays of strings) of the members
// of body named in keys, at any depth. Bodies that are not JSON are
// skipped: a deliberately malformed request carries nothing to look for.
func (c *secretsCapture) addJSON(body []byte, keys map[string]bool) {
	var v any
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				walk(y, keys[k])
			}
		case []any:
			for _, y := range x {
				walk(y, secret)
			}
		case string:
			if secret {
				c.add(x)
			}
		}
	}
	walk(v, false)
}

// recordMail records the query values of a mail's links but uid: the
// verification, reset and email-change tokens.
func (c *secretsCapture) recordMail(m mail.Message) {
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err != nil {
			continue
		}
		for k, vs := range u.Query() {
			if k == "uid" {
				continue
			}
			for _, v := range vs {
				c.add(v)
			}
		}
	}
}

// onEvent returns an OnEvent hook that captures each event and then calls
// next, if any.
func (c *secretsCapture) onEvent(next func(authsys.Event)) func(authsys.Event) {
	return func(ev authsys.Event) {
		c.addRecord(fmt.Sprintf("event %+v", ev))
		if next != nil {
			next(ev)
		}
	}
}

// logger returns a logger that captures every record at every level and
// also hands it to next, when next is not nil.
func (c *secretsCapture) logger(next *slog.Logger) *slog.Logger {
	h := &secretsHandler{c: c}
	if next != nil {
		h.next = next.Handler()
	}
	return slog.New(h)
}

// checkEnv waits for the env's background mail, then fails t if one of the
// env's secrets appears in one of its records.
func (c *secretsCapture) checkEnv(t *testing.T, a *authsys.Auth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.Shutdown(ctx)
	c.mu.Lock()
	records := slices.Clone(c.records)
	secrets := make([]string, 0, len(c.secrets))
	for s := range c.secrets {
		secrets = append(secrets, s)
	}
	c.mu.Unlock()
	for _, f := range secretsFind(secrets, records) {
		t.Errorf("a secret was logged: %s", f)
	}
}

// secretsHandler is a slog.Handler that captures every record as one line
// of "level message key=value..." with raw (unquoted) values.
type secretsHandler struct {
	c      *secretsCapture
	next   slog.Handler
	prefix string // group prefix of attributes added from now on
	attrs  []string
}

func (h *secretsHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *secretsHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		secretsAppendAttr(&b, h.prefix, a)
		return true
	})
	h.c.addRecord(b.String())
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *secretsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		var b strings.Builder
		secretsAppendAttr(&b, h.prefix, a)
		h2.attrs = append(h2.attrs, strings.TrimPrefix(b.String(), " "))
	}
	if h.next != nil {
		h2.next = h.next.WithAttrs(as)
	}
	return &h2
}

func (h *secretsHandler) WithGroup(name string) slog.Handler {
	h2 := *h
	h2.prefix = h.prefix + name + "."
	if h.next != nil {
		h2.next = h.next.WithGroup(name)
	}
	return &h2
}

// secretsAppendAttr writes " key=value" for a, with groups flattened and
// the raw text of the value: an error's message, a []byte as text.
func secretsAppendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			secretsAppendAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix + a.Key)
	b.WriteByte('=')
	if raw, ok := v.Any().([]byte); ok && v.Kind() == slog.KindAny {
		b.Write(raw)
		return
	}
	b.WriteString(v.String())
}

// secretsFind returns one line per secret found in a record. A secret of
// secretsWordLen characters or more counts anywhere; a shorter one only
// where it is not part of a longer word of letters, digits, '_' or '-'.
// Each record is scanned once per distinct window length, with the secrets
// indexed by their first characters, so a whole suite is checked in one
// pass per length.
func secretsFind(secrets, records []string) []string {
	byWindow := map[int]map[string][]string{}
	for _, s := range secrets {
		if len(s) < secretsMinLen {
			continue
		}
		w := min(len(s), secretsWordLen)
		if byWindow[w] == nil {
			byWindow[w] = map[string][]string{}
		}
		byWindow[w][s[:w]] = append(byWindow[w][s[:w]], s)
	}
	var found []string
	seen := map[string]bool{}
	for _, rec := range records {
		for w, index := range byWindow {
			for i := 0; i+w <= len(rec); i++ {
				for _, s := range index[rec[i:i+w]] {
					if seen[s] || !strings.HasPrefix(rec[i:], s) {
						continue
					}
					if len(s) < secretsWordLen && (secretsWordByte(rec, i-1) || secretsWordByte(rec, i+len(s))) {
						continue
					}
					seen[s] = true
					found = append(found, fmt.Sprintf("%q in %q", s, rec))
				}
			}
		}
	}
	slices.Sort(found)
	return found
}

// secretsWordByte reports whether s[i] exists and is a letter, digit, '_'
// or '-'.
func secretsWordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// secretsSweep checks every secret recorded in the run against every record
// captured in the run, and returns what it found.
func secretsSweep() (found []string, nSecrets, nRecords int) {
	set := map[string]bool{}
	var records []string
	secretsSuite.mu.Lock()
	for s := range secretsSuite.extra {
		set[s] = true
	}
	caps := slices.Clone(secretsSuite.captures)
	secretsSuite.mu.Unlock()
	for _, c := range caps {
		c.mu.Lock()
		for s := range c.secrets {
			set[s] = true
		}
		records = append(records, c.records...)
		c.mu.Unlock()
	}
	secrets := make([]string, 0, len(set))
	for s := range set {
		secrets = append(secrets, s)
	}
	return secretsFind(secrets, records), len(secrets), len(records)
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/mail"
)

// The web app: plain HTML, CSS and JavaScript modules, embedded in the
// binary and served at /. The page is web/index.html; its scripts and
// styles are under web/assets/ and served at /assets/.
//
//go:embed web
var webFiles embed.FS

// appRoutes are the paths of the app's pages (the client-side routes of
// web/assets/js/main.js): each gets the page with 200. Any other path
// outside /api/ and /assets/ gets it with 404, and the app shows its "not
// found" view. The email links point at /verify-account, /reset-password
// and /confirm-email-change (see authConfig).
var appRoutes = map[string]bool{
	"/":                     true,
	"/signup":               true,
	"/login":                true,
	"/verify-account":       true,
	"/resend-verification":  true,
	"/forgot-password":      true,
	"/reset-password":       true,
	"/confirm-email-change": true,
	"/account":              true,
	"/account/password":     true,
	"/account/email":        true,
	"/account/two-factor":   true,
	"/account/sessions":     true,
	"/account/passkeys":     true,
}

// mailboxRoute is the development mailbox page, served only with the
// console mailer; mailboxData is the JSON it reads.
const (
	mailboxRoute = "/dev/mailbox"
	mailboxData  = "/dev/mailbox.json"
)

// appCSP is the Content-Security-Policy of the app: scripts, styles and
// requests only from this origin, images also from data: URLs (the 2FA QR
// code), no inline script or style, no form posts (the scripts send JSON)
// and no framing. Trusted Types make any HTML string sink (innerHTML) an
// error: the app builds its DOM from nodes.
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// appHeaders sets the security headers of every answer of the app.
func appHeaders(h http.Header) {
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// The landing pages carry tokens in their query.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// newApp returns the handler of the web app; box, when not nil, is the
// development mailbox, whose page and data it then serves too, to requests
// for frontendHost (the host of the email links), an IP address or
// localhost (see mailboxHostOnly). pk tells the app about passkeys.
func newApp(box *devMailbox, frontendHost string, pk appPasskeys) http.Handler {
	page := renderIndex(box != nil, pk)
	assets, err := fs.Sub(webFiles, "web/assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	tags := assetETags(assets)
	files := http.StripPrefix("/assets/", http.FileServerFS(assets))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		appHeaders(w.Header())
		// Revalidated on every load, so that a rebuilt server's app is
		// used at once; the ETag makes that a 304.
		w.Header().Set("Cache-Control", "no-cache")
		if tag, ok := tags[strings.TrimPrefix(r.URL.Path, "/assets/")]; ok {
			w.Header().Set("ETag", tag)
		}
		files.ServeHTTP(w, r)
	})
	if box != nil {
		mux.Handle("GET "+mailboxData, mailboxHostOnly(box, frontendHost))
	}
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			http.NotFound(w, r)
			return
		}
		status := http.StatusNotFound
		if appRoutes[r.URL.Path] || (box != nil && r.URL.Path == mailboxRoute) {
			status = http.StatusOK
		}
		appHeaders(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(status)
		w.Write(page)
	})
	return mux
}

// signupField is a field of the app's signup form after the email and the
// password, sent (when filled in) as the member Name of POST /signup/.
type signupField struct {
	Name         string `json:"name"`
	Label        string `json:"label"`
	Hint         string `json:"hint,omitempty"`
	Autocomplete string `json:"autocomplete,omitempty"`
	Required     bool   `json:"required,omitempty"`
}

// signupFields are the example's own signup fields, which the signup form
// shows: the optional display name its profile declares (profile.go).
var signupFields = []signupField{{
	Name:         "display_name",
	Label:        "Display name",
	Hint:         "How other people see you; at most 80 characters.",
	Autocomplete: "nickname",
}}

// appPasskeys is what the app knows of the server's passkeys: the
// relying party ID and the origins whose pages may run the ceremonies
// (Passkeys.RPOrigins). The app offers passkeys on those origins only, and
// elsewhere links to the first; with RPID empty (passkeys off) it offers
// none.
type appPasskeys struct {
	RPID    string   `json:"rp_id"`
	Origins []string `json:"origins"`
}

// passkeysOf returns what the app is told of cfg's passkeys: the origins
// are Passkeys.RPOrigins, by default the origin of Links.FrontendURL (as
// authsys.New defaults them), written as browsers write location.origin.
func passkeysOf(cfg authsys.Config) appPasskeys {
	pk := appPasskeys{RPID: cfg.Passkeys.RPID}
	if pk.RPID == "" {
		return pk
	}
	origins := cfg.Passkeys.RPOrigins
	if len(origins) == 0 {
		origins = []string{cfg.Links.FrontendURL}
	}
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			pk.Origins = append(pk.Origins, browserOrigin(u))
		}
	}
	return pk
}

// browserOrigin is the origin of u as a browser writes it: scheme and
// host lower-case, no default port, no path.
func browserOrigin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "https" && u.Port() == "443") || (scheme == "http" && u.Port() == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host
}

// renderIndex renders web/index.html, which names the mailbox's data when
// there is a mailbox, lists the signup fields and describes the passkeys
// (pk, when they are on).
func renderIndex(mailbox bool, pk appPasskeys) []byte {
	t := template.Must(template.ParseFS(webFiles, "web/index.html"))
	var b bytes.Buffer
	data := struct{ Mailbox, SignupFields, Passkeys string }{}
	if mailbox {
		data.Mailbox = mailboxData
	}
	if pk.RPID != "" {
		j, err := json.Marshal(pk)
		if err != nil {
			panic(err)
		}
		data.Passkeys = string(j)
	}
	if len(signupFields) > 0 {
		j, err := json.Marshal(signupFields)
		if err != nil {
			panic(err)
		}
		data.SignupFields = string(j)
	}
	if err := t.Execute(&b, data); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// assetETags returns a strong ETag, from the content, of every file in
// assets (the embedded files have no modification time).
func assetETags(assets fs.FS) map[string]string {
	tags := map[string]string{}
	err := fs.WalkDir(assets, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags[path] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		panic(err)
	}
	return tags
}

// mailboxHostOnly serves h only to requests whose Host is frontendHost,
// an IP address or localhost: a page of another site that rebinds its DNS
// name to this server's address cannot read the mails (reset links)
// through its own origin.
func mailboxHostOnly(h http.Handler, frontendHost string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !strings.EqualFold(r.Host, frontendHost) && net.ParseIP(host) == nil && !strings.EqualFold(host, "localhost") {
			http.Error(w, "the development mailbox answers only on the server's own address", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// devMailbox is the mailer of the development server: it keeps the last
// mailboxSize messages for the mailbox page and passes each to next (the
// console). It is safe for concurrent use.
type devMailbox struct {
	next mail.Mailer

	mu     sync.Mutex
	lastID int
	msgs   []devMail // oldest first
}

// mailboxSize bounds the messages the mailbox keeps.
const mailboxSize = 100

// devMail is one message as the mailbox page shows it.
type devMail struct {
	ID      int       `json:"id"`
	Kind    string    `json:"kind"`
	To      string    `json:"to"`
	From    string    `json:"from"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Links   []string  `json:"links"`
	SentAt  time.Time `json:"sent_at"`
}

var _ mail.Mailer = (*devMailbox)(nil)

// Send keeps msg, then sends it with the next mailer.
func (m *devMailbox) Send(ctx context.Context, msg mail.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.lastID++
	m.msgs = append(m.msgs, devMail{
		ID: m.lastID, Kind: msg.Kind, To: msg.To, From: msg.From, Subject: msg.Subject,
		Text: msg.Text, Links: append([]string{}, msg.Links...), SentAt: time.Now().UTC(),
	})
	if len(m.msgs) > mailboxSize {
		m.msgs = append([]devMail(nil), m.msgs[len(m.msgs)-mailboxSize:]...)
	}
	m.mu.Unlock()
	return m.next.Send(ctx, msg)
}

// ServeHTTP answers the messages as JSON, newest first:
// {"messages": [{id, kind, to, from, subject, text, links, sent_at}]}.
func (m *devMailbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	out := make([]devMail, 0, len(m.msgs))
	for i := len(m.msgs) - 1; i >= 0; i-- {
		out = append(out, m.msgs[i])
	}
	m.mu.Unlock()
	appHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Messages []devMail `json:"messages"`
	}{out})
}

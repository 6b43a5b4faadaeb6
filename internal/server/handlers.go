package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/authsys-go/authsys/handlers"
	"github.com/authsys-go/authsys/internal/authcache"
	"github.com/authsys-go/authsys/internal/session"

	"github.com/authsys-go/authsys/internal/clientip"
	"github.com/authsys-go/authsys/internal/password"
	"github.com/authsys-go/authsys/internal/ratelimit"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/store"
	"github.com/authsys-go/authsys/tokens"
	"github.com/authsys-go/authsys/totp"
	"github.com/go-webauthn/webauthn/webauthn"
)

// MaxBodyBytes is the largest request body the handlers read.
const MaxBodyBytes = 64 << 10

// Deps are the collaborators and settings of the handlers, built by the
// root package from its Config (defaults filled in, validated).
type Deps struct {
	Users   store.UserStore
	Pending store.PendingStore
	// SessionStore keeps the session records: the UserStore's, or else the
	// PendingStore's.
	SessionStore store.SessionStore
	// SessionsVolatile: SessionStore is the PendingStore's, so revoked
	// sessions come back if it loses its data.
	SessionsVolatile bool
	// Notifier carries changes between instances (the UserStore's, else
	// the PendingStore's); nil when neither has one. NotifierElsewhere:
	// it is the PendingStore's, which cannot hear of writes made to the
	// user store by others (another process on a shared SQLite file).
	Notifier          store.ChangeNotifier
	NotifierElsewhere bool
	Mailer            mail.Mailer
	Tokens            *tokens.Manager
	Hasher            *password.Hasher
	Limiter           *ratelimit.Limiter
	ClientIP          *clientip.Resolver
	CSRF              *http.CrossOriginProtection
	// FrontendURL is Links.FrontendURL, parsed.
	FrontendURL *url.URL
	TOTPCipher  *totp.Cipher
	Logger      *slog.Logger
	Now         func() time.Time

	// PasswordPolicy is Passwords.Policy (DefaultPasswordPolicy when
	// unset), given the account's ID (empty at signup), its email and the
	// new password; nil applies password.Validate. Breached is
	// Passwords.Breached, nil when off.
	PasswordPolicy func(ctx context.Context, userID, email, password string) error
	Breached       BreachChecker
	// PasskeyStore keeps the passkeys (the UserStore's) and WebAuthn runs
	// their ceremonies; both nil while passkeys are off.
	PasskeyStore store.PasskeyStore
	WebAuthn     *webauthn.WebAuthn

	Limits    Limits
	Mail      Mail
	Locales   Locales
	Links     Links
	Sessions  Sessions
	Cookies   Cookies
	TwoFactor TwoFactor
	Passkeys  Passkeys
	HTTP      HTTP
	Hooks     Hooks
	Profile   Profile
	// OpenAPI is the document GET /openapi.json serves (OpenAPIDocument of
	// Profile); handlers' when nil.
	OpenAPI []byte
}

// Handlers serves the auth API. It is safe for concurrent use.
type Handlers struct {
	deps Deps
	// loc are the languages of messages and mails.
	loc *locales
	// sess is the session core; keys names every PendingStore key.
	sess   *session.Manager
	keys   session.Keys
	log    *slog.Logger
	mux    *http.ServeMux
	admin  *http.ServeMux
	mailWG sync.WaitGroup
	// unknownIP logs, once, that requests come without a client IP.
	unknownIP sync.Once
	// served lists the routes registered on each mux, for Routes.
	served map[*http.ServeMux][]Route
	// private names the profile fields declared Private: the public view
	// leaves them out.
	private map[string]bool
	// cache is set when a change channel keeps it: the subscription
	// (subMu) starts with the first authenticated request and ends at
	// Shutdown.
	cache       *authcache.Cache
	subMu       sync.Mutex
	subscribed  atomic.Bool
	subGen      atomic.Uint64 // the current subscription's number
	subRetry    atomic.Int64  // no new attempt before (Unix ns)
	subFailed   sync.Once
	unsubscribe context.CancelFunc
}

// New returns the handlers for d.
func New(d Deps) *Handlers {
	h := &Handlers{deps: d, log: d.Logger, keys: session.NewKeys(d.Sessions.KeyPrefix), loc: newLocales(d.Locales)}
	if h.deps.OpenAPI == nil {
		h.deps.OpenAPI = handlers.OpenAPIDocument()
	}
	for _, f := range d.Profile.Fields {
		if f.Private {
			if h.private == nil {
				h.private = map[string]bool{}
			}
			h.private[f.Name] = true
		}
	}
	var cache *authcache.Cache
	if d.Sessions.CacheSize > 0 {
		maxAge := d.Sessions.CacheMaxAge
		switch {
		case maxAge > 0:
		case d.NotifierElsewhere:
			maxAge = 5 * time.Second
		default:
			maxAge = time.Minute
		}
		cache = authcache.New(d.Sessions.CacheSize, maxAge, d.Now)
		h.subscribe(cache)
	}
	h.sess = session.New(session.Config{
		Cache: cache, Notifier: d.Notifier,
		OnNotifyError: func(err error) {
			h.log.Warn("authsys: announcing a change to the other instances failed; they may serve the old state until it ages out of their caches", "error", err)
		},
		Users: d.Users, Pending: d.Pending, Sessions: d.SessionStore, Tokens: d.Tokens, Keys: h.keys, Now: d.Now,
		ReuseGrace: d.Sessions.RefreshReuseGrace, AbsoluteTTL: d.Sessions.AbsoluteTTL,
		CheckEnded:      !d.Sessions.StatelessAccessTokens,
		PendingLoginTTL: d.TwoFactor.PendingLoginTTL, WorkTimeout: h.workTimeout(),
		OnPurgeError: func(err error) {
			h.log.Warn("authsys: purging old session records failed; retried later", "error", err)
		},
	})
	h.mux = http.NewServeMux()
	h.routes()
	h.admin = http.NewServeMux()
	h.adminRoutes()
	return h
}

// subscribe makes cache serve users and sessions: while the change channel
// is up (the subscription starts with the first authenticated request; see
// ensureSubscribed), or always when there is none but
// Sessions.CacheMaxAge is set (the staleness the application accepts).
// Without either it serves verified tokens only.
func (h *Handlers) subscribe(cache *authcache.Cache) {
	switch {
	case h.deps.Notifier != nil:
		h.cache = cache
	case h.deps.Sessions.CacheMaxAge > 0:
		cache.SetReady(true)
	}
}

// ensureSubscribed starts the change subscription unless it runs: lazily,
// so that an Auth that authenticates nothing (a command-line tool) opens no
// connection, and again after Shutdown ended it. A failed attempt is
// retried after a second at the earliest, and logged once.
func (h *Handlers) ensureSubscribed() {
	if h.cache == nil || h.subscribed.Load() || time.Now().UnixNano() < h.subRetry.Load() {
		return
	}
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.subscribed.Load() || time.Now().UnixNano() < h.subRetry.Load() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cache := h.cache
	// A callback of an ended subscription (a late ready(true) after
	// Shutdown) must not reach the cache: each subscription has its
	// number, and only the current one's callbacks count.
	gen := h.subGen.Add(1)
	current := func() bool { return h.subGen.Load() == gen && h.subscribed.Load() }
	changed := func(c store.Change) {
		if current() {
			cache.Invalidate(c)
		}
	}
	ready := func(up bool) {
		if !current() {
			return
		}
		cache.SetReady(up)
		if !up {
			h.log.Warn("authsys: the change channel is down; authentication reads the stores until it is back")
		}
	}
	h.subscribed.Store(true) // before the callbacks can run
	if err := h.deps.Notifier.SubscribeChanges(ctx, changed, ready); err != nil {
		cancel()
		h.subscribed.Store(false)
		h.subRetry.Store(time.Now().Add(time.Second).UnixNano())
		h.subFailed.Do(func() {
			h.log.Warn("authsys: subscribing to the change channel failed; authentication reads the stores, and subscribing is tried again every second", "error", err)
		})
		return
	}
	h.unsubscribe = cancel
}

// endSubscription ends the change subscription; nothing is served from the
// cache until a new one is confirmed.
func (h *Handlers) endSubscription() {
	if h.cache == nil {
		return
	}
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.subscribed.Load() {
		h.unsubscribe()
		h.subscribed.Store(false)
	}
	h.subGen.Add(1)
	// No change arrives any more: the cache must not serve.
	h.cache.SetReady(false)
}

// ServeHTTP serves the auth API (mounted with the mount prefix stripped).
// Every response, the mux's own redirects included, carries the security
// headers and the CORS headers (see cors), and CORS preflights are
// answered before the mux.
func (h *Handlers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.securityHeaders(w)
	if h.cors(w, r, apiCORSMethods) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Admin returns the admin API handler.
func (h *Handlers) Admin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.securityHeaders(w)
		if h.cors(w, r, apiCORSMethods) {
			return
		}
		h.admin.ServeHTTP(w, r)
	})
}

// Shutdown ends the change subscription (a later authenticated request
// starts a new one) and waits for emails still being sent, or until ctx is
// done.
func (h *Handlers) Shutdown(ctx context.Context) error {
	h.endSubscription()
	done := make(chan struct{})
	go func() { h.mailWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handlerFunc is a handler that returns its error for one writer to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route describes one served path, for the OpenAPI coverage test.
type Route struct {
	Path    string
	Methods []string
}

type methods map[string]handlerFunc

// handle registers path with and without its trailing slash. Methods not
// listed get 405 problem+json with Allow; HEAD is answered as GET (see
// handleLink for the exception).
func (h *Handlers) handle(mux *http.ServeMux, path string, ms methods) {
	h.register(mux, path, ms, true)
}

// handleLink is handle for the endpoints that email links open with GET,
// which act (verify an account, confirm an email change): HEAD gets 405,
// so that link checkers and mail scanners that only look use nothing up.
func (h *Handlers) handleLink(mux *http.ServeMux, path string, ms methods) {
	h.register(mux, path, ms, false)
}

func (h *Handlers) register(mux *http.ServeMux, path string, ms methods, headAsGet bool) {
	if h.served == nil {
		h.served = map[*http.ServeMux][]Route{}
	}
	rt := Route{Path: path}
	for m := range ms {
		rt.Methods = append(rt.Methods, m)
	}
	h.served[mux] = append(h.served[mux], rt)
	allowed := make([]string, 0, len(ms))
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, ok := ms[m]; ok {
			allowed = append(allowed, m)
		}
	}
	allow := strings.Join(allowed, ", ")
	hf := func(w http.ResponseWriter, r *http.Request) {
		fn, ok := ms[r.Method]
		if !ok && r.Method == http.MethodHead && headAsGet {
			fn, ok = ms[http.MethodGet]
		}
		if !ok {
			h.securityHeaders(w)
			w.Header().Set("Allow", allow)
			h.writeProblem(w, r, problem(http.StatusMethodNotAllowed, handlers.CodeMethodNotAllowed, "request.method_not_allowed"))
			return
		}
		h.serve(w, r, fn)
	}
	if !strings.HasSuffix(path, "/") {
		mux.HandleFunc(path, hf)
		return
	}
	mux.HandleFunc(path+"{$}", hf)
	if trimmed := strings.TrimSuffix(path, "/"); trimmed != "" {
		mux.HandleFunc(trimmed, hf)
	}
}

func (h *Handlers) securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

// serve runs fn with the security headers, the CSRF check for unsafe
// methods, the request's mode (X-Auth-Mode) and the request deadline, and
// renders its error.
func (h *Handlers) serve(w http.ResponseWriter, r *http.Request, fn handlerFunc) {
	h.securityHeaders(w)
	if err := h.deps.CSRF.Check(r); err != nil {
		h.writeProblem(w, r, errCSRF)
		return
	}
	r, err := h.withAuthMode(r)
	if err != nil {
		h.writeProblem(w, r, toProblem(err))
		return
	}
	if h.deps.HTTP.RequestTimeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.deps.HTTP.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	r = withReqAccount(r)
	if err := fn(w, r); err != nil {
		h.writeProblem(w, r, toProblem(err))
	}
}

var errCSRF = problem(http.StatusForbidden, handlers.CodeCSRFFailed, "request.csrf_failed")

func (h *Handlers) notFound(w http.ResponseWriter, r *http.Request) {
	h.securityHeaders(w)
	h.writeProblem(w, r, problem(http.StatusNotFound, handlers.CodeNotFound, "request.not_found"))
}

// decode reads a JSON body into dst strictly: JSON content type, at most
// MaxBodyBytes, valid UTF-8, no unknown fields, one value.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBody(body, dst)
}

// readBody reads a JSON body: JSON content type, at most MaxBodyBytes,
// valid UTF-8.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, problem(http.StatusUnsupportedMediaType, handlers.CodeUnsupportedMediaType, "request.unsupported_media_type")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem(http.StatusRequestEntityTooLarge, handlers.CodeRequestTooLarge, "request.too_large", "max_kib", strconv.Itoa(MaxBodyBytes>>10))
		}
		return nil, problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.unreadable")
	}
	if !utf8.Valid(body) {
		return nil, problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.invalid_utf8")
	}
	return body, nil
}

// decodeBody decodes body, as readBody returned it, into dst strictly: no
// unknown fields, one value.
func decodeBody(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.unknown_field", "field", name)
		}
		return problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.invalid_json")
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem(http.StatusBadRequest, handlers.CodeInvalidJSON, "request.trailing_data")
	}
	return nil
}

// decodeOptional is decode for endpoints whose body may be empty.
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return decode(w, r, dst)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// message is a success answer: the catalog's message of Code in the
// request's language, and Code, its stable key.
type message struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	// Tokens are, in token mode, the tokens of the session the request
	// renewed (see setTokens); never set in cookie mode.
	Tokens *tokensJSON `json:"tokens,omitempty"`
}

// writeMessage answers 200 with the message of the catalog key.
func (h *Handlers) writeMessage(w http.ResponseWriter, r *http.Request, key string) error {
	return h.writeMessageStatus(w, r, http.StatusOK, key)
}

// writeMessageStatus answers status with the message of the catalog key,
// in the request's language.
func (h *Handlers) writeMessageStatus(w http.ResponseWriter, r *http.Request, status int, key string) error {
	return h.writeMessageTokens(w, r, status, key, nil)
}

// writeMessageTokens is writeMessageStatus with the tokens of the session
// the request renewed (nil in cookie mode).
func (h *Handlers) writeMessageTokens(w http.ResponseWriter, r *http.Request, status int, key string, tokens *tokensJSON) error {
	l := h.requestLang(r)
	text, own := h.loc.text(l, key, nil)
	text = cmp.Or(text, key) // a sentence not yet in the catalog says itself
	if own {
		w.Header().Set("Content-Language", h.loc.name(l))
	}
	return writeJSON(w, status, message{Message: text, Code: key, Tokens: tokens})
}

// fields collects field errors.
type fields map[string][]handlers.FieldError

// add records the problem code with field; its message is the catalog's.
func (f fields) add(field, code string) {
	f[field] = append(f[field], fieldError(code))
}

func (f fields) required(field, value string) bool {
	if strings.TrimSpace(value) == "" {
		f.add(field, fieldRequired)
		return false
	}
	return true
}

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return fieldProblem(f)
}

func (h *Handlers) now() time.Time { return h.deps.Now() }

// workTimeout bounds work done for a request that may outlast it (the
// claim on a pending 2FA session, a contested signup's background check):
// Config.RequestTimeout, or 10 seconds without one.
func (h *Handlers) workTimeout() time.Duration {
	if h.deps.HTTP.RequestTimeout > 0 {
		return h.deps.HTTP.RequestTimeout
	}
	return 10 * time.Second
}

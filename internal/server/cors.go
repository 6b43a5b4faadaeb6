package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/authsys-go/authsys/handlers"
)

// CORS for the trusted origins (HTTP.TrustedOrigins): an SPA on another
// origin may call the API, and the application's routes behind
// CrossOrigin, with credentials. Only a listed origin is ever reflected in
// Access-Control-Allow-Origin, never "*" (which browsers refuse with
// credentials anyway); the comparison is exact, as CrossOriginProtection's,
// so that no prefix, suffix or "null" passes.

// Methods a preflight may ask for: those the API serves, and those an
// application's routes may.
var (
	apiCORSMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete}
	appCORSMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
)

// corsHeaders are the request headers a preflight may ask for, in
// canonical form: the JSON body, the Bearer token, the mode of native
// clients, and the language.
var corsHeaders = []string{"Content-Type", "Authorization", authModeHeader, "Accept-Language"}

// corsMaxAge is how long, in seconds, a browser may cache a preflight's
// answer (Chromium caps it at 2 hours).
const corsMaxAge = "7200"

// cors applies CORS to r, allowing the given methods in preflights. Every
// response varies by Origin (so that caches keep the answers to different
// origins apart); a request from a trusted origin gets the CORS headers
// that let its page read the answer. A preflight is answered here, and
// cors returns true: 204 with the allowed methods and headers for a
// trusted origin asking for them, 403 cors_refused with no CORS header
// otherwise.
func (h *Handlers) cors(w http.ResponseWriter, r *http.Request, methods []string) (answered bool) {
	hd := w.Header()
	addVary(hd, "Origin")
	origin := r.Header.Get("Origin")
	trusted := origin != "" && slices.Contains(h.deps.HTTP.TrustedOrigins, origin)
	if r.Method != http.MethodOptions || origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		if trusted {
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		return false
	}
	// A preflight: its answer also depends on what it asks for.
	addVary(hd, "Access-Control-Request-Method", "Access-Control-Request-Headers")
	h.securityHeaders(w)
	if err := preflightRefusal(trusted, r, methods); err != nil {
		h.writeProblem(w, r, err)
		return true
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	hd.Set("Access-Control-Allow-Headers", strings.Join(corsHeaders, ", "))
	hd.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// preflightRefusal returns the problem refusing the preflight r, or nil:
// the origin must be trusted, the method one of methods (compared
// exactly: methods are case-sensitive) and every header one of
// corsHeaders.
func preflightRefusal(trusted bool, r *http.Request, methods []string) *Problem {
	if !trusted {
		return problem(http.StatusForbidden, handlers.CodeCORSRefused, "cors.origin_refused")
	}
	if !slices.Contains(methods, r.Header.Get("Access-Control-Request-Method")) {
		return problem(http.StatusForbidden, handlers.CodeCORSRefused, "cors.method_refused", "allowed", strings.Join(methods, ", "))
	}
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !slices.Contains(corsHeaders, http.CanonicalHeaderKey(name)) {
				return problem(http.StatusForbidden, handlers.CodeCORSRefused, "cors.header_refused", "allowed", strings.Join(corsHeaders, ", "))
			}
		}
	}
	return nil
}

// addVary adds names to the Vary header of hd, each once, however the
// handlers are nested (CrossOrigin around a mux holding Handler).
func addVary(hd http.Header, names ...string) {
	for _, name := range names {
		present := false
		for _, v := range hd.Values("Vary") {
			for f := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(f), name) {
					present = true
				}
			}
		}
		if !present {
			hd.Add("Vary", name)
		}
	}
}

// CrossOrigin gives an application route the API's cross-origin handling:
// CORS for the trusted origins (preflights answered), and the CSRF check
// of unsafe methods, refused with 403 csrf_failed problem+json.
func (h *Handlers) CrossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.cors(w, r, appCORSMethods) {
			return
		}
		if h.refuseCrossOrigin(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseCrossOrigin answers 403 csrf_failed to an unsafe cross-origin
// request from an origin not trusted (http.CrossOriginProtection), and
// reports whether it did.
func (h *Handlers) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := h.deps.CSRF.Check(r); err != nil {
		h.securityHeaders(w)
		h.writeProblem(w, r, errCSRF)
		return true
	}
	return false
}

package authsys

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authsys-go/authsys/internal/server"
	"github.com/authsys-go/authsys/store"
)

// Passkeys configures passkeys (WebAuthn credentials): a login with a
// passkey alone, without an email or a password; a phishing-resistant
// second factor after the password; and re-authentication. They are off
// unless RPID is set, and then need a Users store that implements
// store.PasskeyStore (the memory, SQLite and PostgreSQL stores do). See
// docs/passkeys.md.
type Passkeys struct {
	// RPID is the relying party ID: the domain the passkeys are bound to,
	// the host of the application's pages or a registrable suffix of it
	// ("example.com" serves pages on app.example.com and example.com). A
	// passkey works under the RPID it was registered with only: choose it
	// once. Lower-case, without scheme, port or path; not an IP address.
	// Default "": passkeys are off and the /passkeys/ endpoints answer 501
	// not_implemented.
	RPID string
	// RPDisplayName names the application in the browser's and the
	// authenticator's passkey dialogs. Default Mail.AppName.
	RPDisplayName string
	// RPOrigins are the origins of the pages that run the WebAuthn
	// ceremonies, such as "https://app.example.com": https (http only for
	// localhost), without path, query or user; the host of each is RPID
	// or a subdomain of it. An answer signed for any other origin is
	// refused. Default: the origin of Links.FrontendURL.
	RPOrigins []string
	// ChallengeTTL is how long a ceremony, from its begin call to its
	// finish call, may take; its challenge works once. Default 5 minutes.
	ChallengeTTL time.Duration
	// MaxPerUser is how many passkeys one account may have, 1 to 100.
	// Default 20.
	MaxPerUser int
}

func (p *Passkeys) defaults(appName string, frontend *url.URL) {
	if p.RPID == "" {
		return
	}
	if p.RPDisplayName == "" {
		p.RPDisplayName = appName
	}
	if len(p.RPOrigins) == 0 && frontend != nil {
		p.RPOrigins = []string{frontend.Scheme + "://" + frontend.Host}
	}
	defaultDuration(&p.ChallengeTTL, 5*time.Minute)
	if p.MaxPerUser == 0 {
		p.MaxPerUser = 20
	}
}

// build validates p and returns what the handlers run passkeys with: the
// user store's passkeys and a WebAuthn relying party; nil for both while
// passkeys are off. It normalizes p.RPOrigins (no trailing slash, no
// default port), as browsers write origins.
func (p *Passkeys) build(users store.UserStore) (store.PasskeyStore, *webauthn.WebAuthn, error) {
	if p.RPID == "" {
		if len(p.RPOrigins) > 0 || p.RPDisplayName != "" || p.ChallengeTTL != 0 || p.MaxPerUser != 0 {
			return nil, nil, bad("Passkeys.RPID", "required when another Passkeys field is set (an empty RPID turns passkeys off)")
		}
		return nil, nil, nil
	}
	if !validRPID(p.RPID) {
		return nil, nil, bad("Passkeys.RPID", fmt.Sprintf("%q is not a lower-case domain name without scheme, port or path (an IP address cannot be one)", p.RPID))
	}
	switch {
	case p.ChallengeTTL < 0:
		return nil, nil, bad("Passkeys.ChallengeTTL", "must not be negative")
	case p.MaxPerUser < 1 || p.MaxPerUser > 100:
		return nil, nil, bad("Passkeys.MaxPerUser", "must be between 1 and 100")
	case strings.ContainsAny(p.RPDisplayName, "\r\n"):
		return nil, nil, bad("Passkeys.RPDisplayName", "must be one line")
	}
	origins := make([]string, len(p.RPOrigins))
	for i, o := range p.RPOrigins {
		norm, err := passkeyOrigin(o, p.RPID)
		if err != nil {
			return nil, nil, bad(fmt.Sprintf("Passkeys.RPOrigins[%d]", i), err.Error())
		}
		origins[i] = norm
	}
	if len(origins) == 0 {
		return nil, nil, bad("Passkeys.RPOrigins", "required: the origins of the pages that use passkeys")
	}
	p.RPOrigins = origins
	ps, ok := users.(store.PasskeyStore)
	if !ok {
		return nil, nil, bad("Users", "implements no store.PasskeyStore, which Passkeys needs (the memory, SQLite and PostgreSQL stores do)")
	}
	wa, err := server.NewWebAuthn(server.Passkeys(*p))
	if err != nil {
		return nil, nil, bad("Passkeys", err.Error())
	}
	return ps, wa, nil
}

// validRPID reports whether id can be a relying party ID: a lower-case
// domain name of labels of letters, digits and hyphens (IDNs in their
// xn-- form), not an IP address.
func validRPID(id string) bool {
	if len(id) > 253 || net.ParseIP(id) != nil {
		return false
	}
	for label := range strings.SplitSeq(id, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// passkeyOrigin checks that o is an origin passkeys of rpID may be used
// from and returns it as browsers write it: scheme://host[:port], without
// a trailing slash or a default port.
func passkeyOrigin(o, rpID string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || u.User != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com", o)
	}
	host := strings.ToLower(u.Hostname())
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && local:
	default:
		return "", fmt.Errorf("%q: want https (http only for localhost)", o)
	}
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("%q: the host is not Passkeys.RPID %q or a subdomain of it", o, rpID)
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	return u.Scheme + "://" + host, nil
}

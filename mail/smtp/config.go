package smtp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how the connection to the server is encrypted.
type TLSMode int

const (
	// StartTLS connects in plaintext and upgrades with the STARTTLS command
	// before anything else is sent; a server that does not offer it is
	// refused with ErrNoStartTLS. It is the default (usually port 587).
	StartTLS TLSMode = iota
	// Implicit speaks TLS from the first byte (usually port 465).
	Implicit
	// None sends everything, credentials included, in plaintext. New
	// accepts it only for a loopback host, or for another host when
	// Config.InsecureAllowPlaintext is set and no credentials are given.
	None
)

// String returns the name of the mode as ParseURL reads it in its tls
// parameter: "starttls", "implicit" or "none".
func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "starttls"
	case Implicit:
		return "implicit"
	case None:
		return "none"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// Default values of Config fields.
const (
	// DefaultTimeout bounds a whole send when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultLocalName is the HELO/EHLO name when Config.LocalName is empty.
	DefaultLocalName = "localhost"
)

// Config configures a Mailer. The zero value of each field means its
// default.
type Config struct {
	// Host is the server's host name or IP address. Required.
	Host string
	// Port is the server's TCP port. Default 587 for StartTLS, 465 for
	// Implicit and 25 for None.
	Port int
	// Username and Password are the AUTH PLAIN credentials; no
	// authentication when Username is empty. They are sent only over TLS,
	// or in plaintext to "localhost", 127.0.0.1 or ::1 (net/smtp's rule).
	// Default none.
	Username string
	// Password goes with Username. Default none.
	Password string
	// TLS is how the connection is encrypted. Default StartTLS.
	TLS TLSMode
	// From is the sender address used when a Message has no From. Default
	// none: every Message must then carry its own From.
	From string
	// Timeout bounds a whole send (dial, TLS handshake, conversation); the
	// context's deadline applies too, whichever comes first. Default
	// DefaultTimeout (10s).
	Timeout time.Duration
	// TLSConfig is the TLS client configuration for StartTLS and Implicit;
	// it is cloned, its ServerName defaults to Host and its MinVersion to
	// TLS 1.2. Default: system roots, ServerName Host.
	TLSConfig *tls.Config
	// LocalName is the name the client gives in HELO/EHLO. Default
	// DefaultLocalName ("localhost").
	LocalName string
	// InsecureAllowPlaintext permits TLS None towards a host that is not a
	// loopback address, for an unauthenticated relay on a trusted network.
	// Credentials are never sent over such a connection. Default false.
	InsecureAllowPlaintext bool
}

// withDefaults returns cfg with its defaults filled in and checks it.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Host == "" {
		return cfg, errors.New("smtp: Config.Host is required")
	}
	if strings.ContainsAny(cfg.Host, "\r\n\x00/ ") {
		return cfg, fmt.Errorf("smtp: Config.Host %q is not a host name", cfg.Host)
	}
	cfg.Host = strings.TrimSuffix(strings.TrimPrefix(cfg.Host, "["), "]")
	switch cfg.TLS {
	case StartTLS, Implicit, None:
	default:
		return cfg, fmt.Errorf("smtp: Config.TLS: unknown mode %d", int(cfg.TLS))
	}
	if cfg.Port == 0 {
		cfg.Port = map[TLSMode]int{StartTLS: 587, Implicit: 465, None: 25}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("smtp: Config.Port %d is out of range", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return cfg, fmt.Errorf("smtp: Config.Timeout %v is negative", cfg.Timeout)
	}
	if cfg.LocalName == "" {
		cfg.LocalName = DefaultLocalName
	}
	if strings.ContainsAny(cfg.LocalName, "\r\n\x00 \t") {
		return cfg, fmt.Errorf("smtp: Config.LocalName %q is not a host name", cfg.LocalName)
	}
	if cfg.From != "" {
		if _, err := parseAddress("Config.From", cfg.From); err != nil {
			return cfg, err
		}
	}
	if cfg.Password != "" && cfg.Username == "" {
		return cfg, errors.New("smtp: Config.Password is set without Config.Username")
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\x00") {
		return cfg, errors.New("smtp: Config.Username and Config.Password must not contain NUL")
	}
	if cfg.TLS == None && !isLoopback(cfg.Host) {
		if !cfg.InsecureAllowPlaintext {
			return cfg, fmt.Errorf("smtp: Config.TLS none is only allowed for a loopback host, not %q, unless Config.InsecureAllowPlaintext is set", cfg.Host)
		}
		if cfg.Username != "" {
			return cfg, fmt.Errorf("smtp: credentials are never sent in plaintext to %q: use StartTLS or Implicit", cfg.Host)
		}
	}
	if cfg.TLSConfig != nil {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	} else {
		cfg.TLSConfig = &tls.Config{}
	}
	if cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig.ServerName = cfg.Host
	}
	if cfg.TLSConfig.MinVersion == 0 {
		cfg.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return cfg, nil
}

// isLoopback reports whether host names the local machine: "localhost" or
// a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseURL reads a Config from a URL:
//
//	smtp://user:pass@host:587              STARTTLS (port 587 by default)
//	smtps://user:pass@host:465             implicit TLS (port 465 by default)
//	smtp://host:25?tls=none                plaintext (port 25 by default)
//
// User name and password are URL-decoded. The query may hold tls
// (starttls, implicit or none, overriding the scheme's mode),
// allow_plaintext=true (Config.InsecureAllowPlaintext), from
// (Config.From), local_name (Config.LocalName) and timeout (a Go duration
// such as 5s); any other parameter is an error. Errors never repeat the
// password. The result is checked by New, not here.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message may quote part of the password.
		return Config{}, errors.New("smtp: invalid URL (percent-encode special characters in the user name and password)")
	}
	var cfg Config
	switch u.Scheme {
	case "smtp":
		cfg.TLS = StartTLS
	case "smtps":
		cfg.TLS = Implicit
	default:
		return Config{}, fmt.Errorf("smtp: URL scheme %q, want smtp or smtps", u.Scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return Config{}, errors.New("smtp: URL must be scheme://[user[:password]@]host[:port][?params]")
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return Config{}, errors.New("smtp: URL has no host")
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return Config{}, fmt.Errorf("smtp: URL port %q is invalid", p)
		}
		cfg.Port = port
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("smtp: URL query: %v", err)
	}
	for key, vals := range q {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("smtp: URL parameter %q given %d times", key, len(vals))
		}
		v := vals[0]
		switch key {
		case "tls":
			switch strings.ToLower(v) {
			case "starttls":
				cfg.TLS = StartTLS
			case "implicit":
				cfg.TLS = Implicit
			case "none":
				cfg.TLS = None
			default:
				return Config{}, fmt.Errorf("smtp: URL parameter tls=%q, want starttls, implicit or none", v)
			}
		case "allow_plaintext":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("smtp: URL parameter allow_plaintext=%q is not a boolean", v)
			}
			cfg.InsecureAllowPlaintext = b
		case "from":
			cfg.From = v
		case "local_name":
			cfg.LocalName = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, fmt.Errorf("smtp: URL parameter timeout=%q is not a positive duration", v)
			}
			cfg.Timeout = d
		default:
			return Config{}, fmt.Errorf("smtp: unknown URL parameter %q", key)
		}
	}
	return cfg, nil
}

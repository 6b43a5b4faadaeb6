package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client IP of a request. With no trusted proxies it is
// the connection's peer (r.RemoteAddr). Only when the connection comes from a
// trusted proxy is X-Forwarded-For read, right to left, skipping trusted
// hops; the first untrusted address is the client. A malformed entry stops
// the walk, and the last trusted hop is used. Several X-Forwarded-For header
// lines are read as one list, in order.
//
// Addresses are normalized: IPv4-mapped IPv6 addresses become IPv4 and
// zones are dropped. A Resolver is immutable and safe for concurrent use by
// multiple goroutines.
type Resolver struct {
	trusted []netip.Prefix
	// unix trusts a peer whose address is no IP (a Unix socket).
	unix bool
}

// Unix is the TrustedProxies entry that trusts a peer without an IP
// address: a reverse proxy connected over a Unix socket.
const Unix = "unix"

// New returns a Resolver that trusts the proxies in trustedProxies, each a
// CIDR ("10.0.0.0/8", "2001:db8::/32") or a bare IP address ("192.0.2.1"),
// surrounding white space ignored, or Unix ("unix") for a proxy on a Unix
// socket. An invalid entry is an error naming it. With no entries,
// X-Forwarded-For is never read.
func New(trustedProxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range trustedProxies {
		if strings.TrimSpace(s) == Unix {
			r.unix = true
			continue
		}
		p, err := parseProxy(s)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// parseProxy parses one trusted proxy entry into a masked prefix of
// normalized addresses.
func parseProxy(s string) (netip.Prefix, error) {
	invalid := fmt.Errorf("clientip: invalid trusted proxy %q: want an IP address or a CIDR", s)
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, invalid
		}
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, invalid
			}
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, invalid
	}
	a = normalize(a)
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ClientIP returns the client's address for req, following the rules of
// Resolver. It returns the zero netip.Addr (not valid) when req.RemoteAddr
// holds no IP address, as for a Unix socket, unless Unix is trusted and
// X-Forwarded-For names the client.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer, ok := parseHost(req.RemoteAddr)
	switch {
	case !ok && !r.unix:
		return netip.Addr{}
	case ok && !r.isTrusted(peer):
		return peer
	}
	// The peer is a trusted proxy: walk the list it forwarded, nearest hop
	// (rightmost) first.
	hop := peer
	lines := req.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		for {
			entry := line
			comma := strings.LastIndexByte(line, ',')
			if comma >= 0 {
				entry, line = line[comma+1:], line[:comma]
			}
			a, ok := parseHost(strings.TrimSpace(entry))
			if !ok {
				return hop
			}
			if !r.isTrusted(a) {
				return a
			}
			hop = a
			if comma < 0 {
				break
			}
		}
	}
	return hop
}

// isTrusted reports whether a is in a trusted proxy range.
func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHost parses an IP address with or without a port ("192.0.2.1",
// "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]:443") and normalizes it.
func parseHost(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// normalize turns an IPv4-mapped IPv6 address into IPv4 and drops any zone.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

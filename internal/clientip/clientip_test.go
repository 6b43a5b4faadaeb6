package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/authsys-go/authsys/internal/clientip"
)

func TestNewInvalid(t *testing.T) {
	for _, entry := range []string{
		"", "   ", "10.0.0.0/33", "10.0.0/8", "not-an-ip", "2001:db8::/129", "192.0.2.1:80",
		"[2001:db8::1]", "fe80::1%eth0/64", "::ffff:0:0/80", "10.0.0.0/8,10.1.0.0/16",
	} {
		r, err := clientip.New([]string{"192.0.2.1", entry})
		if err == nil {
			t.Errorf("New([192.0.2.1 %q]) = %v, nil; want an error", entry, r)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", entry)) {
			t.Errorf("New(%q): error %q does not name the entry", entry, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	// The proxies trusted by most cases: a load balancer network, one bare
	// address, an IPv6 range and an IPv4 range written IPv4-mapped.
	trusted := []string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48", "::ffff:172.16.0.0/108", " 198.51.100.0/24 "}
	tests := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string // X-Forwarded-For lines; nil: no header
		want    string
	}{
		{"no proxies: peer", nil, "203.0.113.7:51000", nil, "203.0.113.7"},
		{"no proxies: header ignored", nil, "203.0.113.7:51000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"no proxies: loopback header ignored", nil, "10.0.0.1:1", []string{"127.0.0.1"}, "10.0.0.1"},
		{"untrusted peer spoofing the header", trusted, "203.0.113.7:51000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"untrusted peer spoofing a trusted hop", trusted, "203.0.113.7:51000", []string{"1.2.3.4, 10.0.0.5"}, "203.0.113.7"},
		{"trusted peer without header", trusted, "10.0.0.1:443", nil, "10.0.0.1"},
		{"trusted peer with empty header", trusted, "10.0.0.1:443", []string{""}, "10.0.0.1"},
		{"one trusted hop", trusted, "10.0.0.1:443", []string{"203.0.113.7"}, "203.0.113.7"},
		{"client's own spoofed entries left of the real one", trusted, "10.0.0.1:443", []string{"1.2.3.4, 5.6.7.8, 203.0.113.7"}, "203.0.113.7"},
		{"several trusted hops", trusted, "10.0.0.1:443", []string{"1.2.3.4, 203.0.113.7, 192.0.2.1, 10.9.9.9"}, "203.0.113.7"},
		{"bare-IP proxy as peer", trusted, "192.0.2.1:443", []string{"203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"address just outside a trusted range", trusted, "10.0.0.1:443", []string{"1.2.3.4, 11.0.0.1"}, "11.0.0.1"},
		{"trimmed CIDR entry is trusted", trusted, "198.51.100.9:443", []string{"203.0.113.7"}, "203.0.113.7"},
		{"all hops trusted: leftmost", trusted, "10.0.0.1:443", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"spaces and tabs around entries", trusted, "10.0.0.1:443", []string{" 203.0.113.7 ,\t10.0.0.2 "}, "203.0.113.7"},
		{"entry with a port", trusted, "10.0.0.1:443", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6 entry with a port", trusted, "10.0.0.1:443", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},

		{"IPv6 peer untrusted", trusted, "[2001:db8::7]:51000", []string{"1.2.3.4"}, "2001:db8::7"},
		{"Unix socket peer, unix not trusted: unknown", trusted, "@", []string{"203.0.113.7"}, "invalid IP"},
		{"Unix socket peer, unix trusted: header read", []string{"unix", "10.0.0.0/8"}, "@", []string{"1.2.3.4, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"Unix socket peer, unix trusted, no header: unknown", []string{"unix"}, "", nil, "invalid IP"},
		{"unix trusted does not trust IP peers", []string{" unix "}, "203.0.113.7:51000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"IPv6 trusted peer, IPv6 client", trusted, "[2001:db8:ffff::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv6 trusted peer, IPv4 client", trusted, "[2001:db8:ffff::1]:443", []string{"203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"IPv6 zone dropped", nil, "[fe80::1%eth0]:443", nil, "fe80::1"},

		{"IPv4-mapped peer unmapped", nil, "[::ffff:203.0.113.7]:51000", nil, "203.0.113.7"},
		{"IPv4-mapped peer matches IPv4 range", trusted, "[::ffff:10.0.0.1]:443", []string{"203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped entry unmapped", trusted, "10.0.0.1:443", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped entry matches IPv4 range", trusted, "10.0.0.1:443", []string{"203.0.113.7, ::ffff:10.0.0.2"}, "203.0.113.7"},
		{"IPv4-mapped trusted range matches IPv4", trusted, "172.16.0.1:443", []string{"203.0.113.7"}, "203.0.113.7"},

		{"garbage header: the trusted peer", trusted, "10.0.0.1:443", []string{"not an ip"}, "10.0.0.1"},
		{"garbage stops the walk at the last trusted hop", trusted, "10.0.0.1:443", []string{"203.0.113.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty entry stops the walk", trusted, "10.0.0.1:443", []string{"203.0.113.7,,10.0.0.2"}, "10.0.0.2"},
		{"trailing comma stops the walk", trusted, "10.0.0.1:443", []string{"203.0.113.7,"}, "10.0.0.1"},
		{"obfuscated identifier stops the walk", trusted, "10.0.0.1:443", []string{"unknown, 10.0.0.2"}, "10.0.0.2"},
		{"bracketed IPv6 without port stops the walk", trusted, "10.0.0.1:443", []string{"[2001:db8::7]"}, "10.0.0.1"},
		{"entry with a zone is normalized", trusted, "10.0.0.1:443", []string{"fe80::7%eth0"}, "fe80::7"},

		{"multiple headers combined in order", trusted, "10.0.0.1:443", []string{"1.2.3.4, 203.0.113.7", "10.0.0.3", "10.0.0.2"}, "203.0.113.7"},
		{"multiple headers: last line's client", trusted, "10.0.0.1:443", []string{"1.2.3.4", "203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"multiple headers: walk crosses lines", trusted, "10.0.0.1:443", []string{"203.0.113.7", "10.0.0.3", "10.0.0.2"}, "203.0.113.7"},
		{"multiple headers: empty line skipped", trusted, "10.0.0.1:443", []string{"203.0.113.7", "", "10.0.0.2"}, "203.0.113.7"},
		{"multiple headers: garbage line stops", trusted, "10.0.0.1:443", []string{"203.0.113.7", "junk", "10.0.0.2"}, "10.0.0.2"},

		{"RemoteAddr without port", nil, "203.0.113.7", nil, "203.0.113.7"},
		{"RemoteAddr not an IP", trusted, "@", []string{"203.0.113.7"}, "invalid IP"},
		{"RemoteAddr empty", trusted, "", []string{"203.0.113.7"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := clientip.New(tt.trusted)
			if err != nil {
				t.Fatalf("New(%q): %v", tt.trusted, err)
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			got := r.ClientIP(req)
			if got.String() != tt.want {
				t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %v, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestClientIPConcurrent(t *testing.T) {
	r, err := clientip.New([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	want := netip.MustParseAddr("203.0.113.7")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
				req.RemoteAddr = "10.0.0.1:443"
				req.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.0.0.2")
				if got := r.ClientIP(req); got != want {
					t.Errorf("ClientIP = %v, want %v", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkClientIP(b *testing.B) {
	r, err := clientip.New([]string{"10.0.0.0/8", "2001:db8:ffff::/48"})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:443"
	req.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.0.0.3, 10.0.0.2")
	for b.Loop() {
		r.ClientIP(req)
	}
}

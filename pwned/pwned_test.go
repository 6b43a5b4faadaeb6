package pwned_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsys-go/authsys/pwned"
)

// sha1Hex returns the upper-case hex SHA-1 of pw.
func sha1Hex(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// fakeAPI is a local Pwned Passwords range API: it knows the passwords
// in seen (with their counts) and answers each prefix with their entries,
// filler entries of other suffixes and, when asked for padding, entries
// seen 0 times. It records every request it gets, whole.
type fakeAPI struct {
	seen map[string]int
	// lower writes the suffixes in lower case, lf ends lines with LF only.
	lower, lf bool

	mu       sync.Mutex
	requests []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dump, err := httputil.DumpRequest(r, true)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, string(dump))
	f.mu.Unlock()
	prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
	if r.Method != http.MethodGet || !ok || len(prefix) != 5 {
		http.NotFound(w, r)
		return
	}
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%035X:%d", i*7919+1, i+1))
	}
	for pw, n := range f.seen {
		if h := sha1Hex(pw); h[:5] == prefix {
			lines = append(lines, fmt.Sprintf("%s:%d", h[5:], n))
		}
	}
	if r.Header.Get("Add-Padding") == "true" {
		for i := range 10 {
			lines = append(lines, fmt.Sprintf("%035X:0", i*104729+3))
		}
	}
	body := strings.Join(lines, "\r\n")
	if f.lower {
		body = strings.ToLower(body)
	}
	if f.lf {
		body = strings.ReplaceAll(body, "\r\n", "\n")
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, body)
}

func (f *fakeAPI) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newChecker(base string, logs *logBuffer) *pwned.Checker {
	return &pwned.Checker{BaseURL: base, Logger: slog.New(slog.NewTextHandler(logs, nil))}
}

func TestBreached(t *testing.T) {
	api := &fakeAPI{seen: map[string]int{"hunter2 is breached": 3, "seen ten times": 10, "only as padding": 0}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	tests := []struct {
		name      string
		password  string
		threshold int
		lower, lf bool
		want      bool
	}{
		{"hit", "hunter2 is breached", 0, false, false, true},
		{"miss", "never seen anywhere 7f3a", 0, false, false, false},
		{"a padding entry, seen 0 times", "only as padding", 0, false, false, false},
		{"under the threshold", "hunter2 is breached", 10, false, false, false},
		{"at the threshold", "seen ten times", 10, false, false, true},
		{"lower-case suffixes", "hunter2 is breached", 1, true, false, true},
		{"LF line ends", "hunter2 is breached", 1, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.lower, api.lf = tt.lower, tt.lf
			var logs logBuffer
			c := newChecker(srv.URL+"/", &logs)
			c.Threshold = tt.threshold
			got, err := c.Breached(t.Context(), tt.password)
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v, want %v, nil", got, err, tt.want)
			}
			if logs.String() != "" {
				t.Errorf("got logs %q, want none", logs.String())
			}
		})
	}
}

// TestOnlyPrefixLeaves checks that the request is a GET of the range of
// the hash's first five hex digits, asking for padding, and that nothing
// else of the password's hash, nor the password, is anywhere in it.
func TestOnlyPrefixLeaves(t *testing.T) {
	const pw = "Tr0ub4dor&3 is a secret"
	api := &fakeAPI{seen: map[string]int{pw: 1}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	if got, err := newChecker(srv.URL, &logBuffer{}).Breached(t.Context(), pw); err != nil || !got {
		t.Fatalf("got %v, %v, want true, nil", got, err)
	}
	reqs := api.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	h := sha1Hex(pw)
	req := reqs[0]
	if want := "GET /range/" + h[:5] + " HTTP/1.1\r\n"; !strings.HasPrefix(req, want) {
		t.Errorf("got request line %q, want %q", strings.SplitN(req, "\n", 2)[0], want)
	}
	if !strings.Contains(req, "\r\nAdd-Padding: true\r\n") {
		t.Errorf("got request %q, want an Add-Padding: true header", req)
	}
	if !strings.HasSuffix(req, "\r\n\r\n") {
		t.Errorf("got request %q, want no body", req)
	}
	lowerReq := strings.ToLower(req)
	for _, secret := range []string{pw, h, h[5:], h[5:15], h[len(h)-10:]} {
		if strings.Contains(lowerReq, strings.ToLower(secret)) {
			t.Errorf("got request %q, want no trace of %q", req, secret)
		}
	}
}

// TestDefaults checks the zero Checker: it asks DefaultBaseURL, with the
// given Client, and a password seen once is breached.
func TestDefaults(t *testing.T) {
	const pw = "seen once"
	var gotURL string
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		gotURL = r.URL.String()
		body := sha1Hex(pw)[5:] + ":1\r\n"
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})}
	got, err := (&pwned.Checker{Client: client}).Breached(t.Context(), pw)
	if err != nil || !got {
		t.Errorf("got %v, %v, want true, nil", got, err)
	}
	if want := pwned.DefaultBaseURL + "/range/" + sha1Hex(pw)[:5]; gotURL != want {
		t.Errorf("got URL %q, want %q", gotURL, want)
	}
	// A negative Timeout or Threshold means the default, not "none".
	srv := httptest.NewServer(&fakeAPI{seen: map[string]int{pw: 1}})
	defer srv.Close()
	got, err = (&pwned.Checker{BaseURL: srv.URL, Timeout: -1, Threshold: -1, FailClosed: true}).Breached(t.Context(), pw)
	if err != nil || !got {
		t.Errorf("Timeout and Threshold -1: got %v, %v, want true, nil", got, err)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAPIFailures checks every way the API can fail: the zero Checker
// fails open (not breached, one warning logged that tells nothing of the
// password), a FailClosed one returns an error.
func TestAPIFailures(t *testing.T) {
	const pw = "a password during an outage"
	h := sha1Hex(pw)
	hang := make(chan struct{})
	defer close(hang)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{"503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }},
		{"429", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) }},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>an error page</html>")
		}},
		{"the suffix matches but another line is malformed", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, h[5:]+":4\r\nnot a line\r\n")
		}},
		{"short suffix", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, h[6:]+":4\r\n") }},
		{"non-hex suffix", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("G", 35)+":4\r\n") }},
		{"non-numeric count", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, h[5:]+":many\r\n") }},
		{"negative count", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, h[5:]+":-1\r\n") }},
		{"empty answer", func(w http.ResponseWriter, r *http.Request) {}},
		{"answer over 1 MiB", func(w http.ResponseWriter, r *http.Request) {
			// Well-formed throughout (blank lines are skipped), so
			// only the bound refuses it.
			io.WriteString(w, h[5:]+":4\r\n"+strings.Repeat("\r\n", 1<<19))
		}},
		{"timeout before the answer", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}},
		{"timeout in the body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, h[5:]+":4\r\n")
			w.(http.Flusher).Flush()
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}},
		{"connection closed", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			for _, closed := range []bool{false, true} {
				var logs logBuffer
				c := newChecker(srv.URL, &logs)
				c.Timeout = 100 * time.Millisecond
				c.FailClosed = closed
				start := time.Now()
				got, err := c.Breached(t.Context(), pw)
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("FailClosed %v: took %v, want the Timeout to bound it", closed, elapsed)
				}
				switch {
				case got:
					t.Errorf("FailClosed %v: got breached, want not", closed)
				case closed && err == nil:
					t.Errorf("FailClosed: got no error, want one")
				case !closed && err != nil:
					t.Errorf("fail open: got error %v, want nil", err)
				case !closed && !strings.Contains(logs.String(), "level=WARN"):
					t.Errorf("fail open: got logs %q, want a warning", logs.String())
				case closed && logs.String() != "":
					t.Errorf("FailClosed: got logs %q, want none (the error is the caller's)", logs.String())
				}
				out := strings.ToLower(logs.String() + fmt.Sprint(err))
				for _, secret := range []string{pw, h, h[:5], h[5:]} {
					if strings.Contains(out, strings.ToLower(secret)) {
						t.Errorf("FailClosed %v: got logs %q and error %v, want no trace of %q", closed, logs.String(), err, secret)
					}
				}
			}
		})
	}
}

// TestCallerContext checks that a Checker that fails open still returns an
// error when the caller's context ends: the request is over, not the API.
func TestCallerContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	var logs logBuffer
	c := newChecker(srv.URL, &logs)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	got, err := c.Breached(ctx, "any password at all")
	if got || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, %v, want false and context.DeadlineExceeded", got, err)
	}
	if logs.String() != "" {
		t.Errorf("got logs %q, want none", logs.String())
	}
}

func TestConcurrentUse(t *testing.T) {
	api := &fakeAPI{seen: map[string]int{"breached 0": 1, "breached 2": 5}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := newChecker(srv.URL, &logBuffer{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			pw := fmt.Sprintf("breached %d", i%4)
			got, err := c.Breached(t.Context(), pw)
			if want := i%4 == 0 || i%4 == 2; err != nil || got != want {
				t.Errorf("%q: got %v, %v, want %v, nil", pw, got, err, want)
			}
		})
	}
	wg.Wait()
	if n := len(api.got()); n != 16 {
		t.Errorf("got %d requests, want 16 (no cache)", n)
	}
}

// TestEndlessAnswer checks that an answer that never ends is read no
// further than the 1 MiB bound.
func TestEndlessAnswer(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("\r\n", 32<<10))
		for r.Context().Err() == nil && written.Load() < 1<<30 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := newChecker(srv.URL, &logBuffer{})
	c.Timeout, c.FailClosed = 10*time.Second, true
	if got, err := c.Breached(t.Context(), "a password"); got || err == nil {
		t.Errorf("got %v, %v, want false and an error", got, err)
	}
	srv.Close() // waits for the handler
	if n := written.Load(); n > 64<<20 {
		t.Errorf("got %d bytes written before the checker hung up, want it to stop reading at 1 MiB", n)
	}
}

// FuzzRangeAnswer feeds Breached arbitrary API answers: it never panics,
// and reports a password breached only when the answer names its hash
// suffix.
func FuzzRangeAnswer(f *testing.F) {
	const pw = "fuzzed password"
	suffix := sha1Hex(pw)[5:]
	for _, s := range []string{
		suffix + ":3\r\n", strings.ToLower(suffix) + ":1", suffix + ":0\r\n" + fmt.Sprintf("%035X:9", 5),
		"", "\r\n\r\n", "garbage", suffix + ":", suffix + ":99999999999999999999", ":\n:", suffix[1:] + ":4",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		c := &pwned.Checker{Client: client, FailClosed: true}
		got, err := c.Breached(t.Context(), pw)
		if got && (err != nil || !strings.Contains(strings.ToUpper(string(body)), suffix)) {
			t.Errorf("got %v, %v for answer %q, want breached only when it names the suffix", got, err, body)
		}
	})
}

// Package pwned checks passwords against Pwned Passwords, the corpus of
// passwords seen in data breaches that Have I Been Pwned publishes, through
// its k-anonymity range API. Neither the password nor its hash leaves the
// process: a Checker sends the first five hex digits of the password's
// SHA-1, the API answers every hash suffix it knows under that prefix
// (hundreds, with how often each was seen), and the match is made here.
//
// A Checker is an authsys.BreachChecker:
//
//	cfg.Passwords.Breached = &pwned.Checker{Logger: logger}
package pwned

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the Pwned Passwords API, the default Checker.BaseURL.
const DefaultBaseURL = "https://api.pwnedpasswords.com"

// maxBody bounds the answer read: a padded range answer holds 800 to 1,000
// lines of about 40 bytes.
const maxBody = 1 << 20

// Checker asks the Pwned Passwords range API whether a password has been
// seen in a data breach. The zero value asks DefaultBaseURL, counts a
// password seen once as breached and fails open. A Checker keeps nothing
// between calls (no cache); each Breached makes one GET request. It is safe
// for concurrent use; its fields must not change after its first use.
type Checker struct {
	// BaseURL is the root of the API: Breached requests
	// BaseURL/range/{first 5 hex digits of the SHA-1}, for a local mirror
	// or a test server. Default DefaultBaseURL.
	BaseURL string
	// Client sends the requests. Default http.DefaultClient.
	Client *http.Client
	// Timeout bounds each request, the reading of its answer included;
	// the caller's context bounds it too. Zero or less means the default,
	// 3 seconds.
	Timeout time.Duration
	// Threshold is how many times a password must have been seen in
	// breaches to count as breached. Zero or less means the default, 1:
	// once is enough.
	Threshold int
	// FailClosed makes Breached return an error when the API cannot
	// answer (a network error, the Timeout, a status other than 200, an
	// answer that is malformed or larger than 1 MiB), and so a password
	// change fail with 503 until it answers again. Default false: fail
	// open, the password counts as not breached and a warning is logged
	// to Logger, so an outage of the API stops no signup. The other rules
	// of the password policy apply either way.
	FailClosed bool
	// Logger receives the warnings of failing open; they never hold the
	// password, its hash or the prefix sent. Default slog.Default().
	Logger *slog.Logger
}

// Breached reports whether password was seen at least Threshold times in
// breaches. It sends the API the first five hex digits of the password's
// SHA-1, asks for a padded answer (Add-Padding: true, so that the size of
// the answer does not tell the prefix) and looks for the rest of the hash
// in the answer; padding entries, seen 0 times, never match. When the API
// cannot answer, it returns false and nil (logging a warning), or the
// error with FailClosed. It returns an error whenever ctx ends first.
func (c *Checker) Breached(ctx context.Context, password string) (bool, error) {
	n, err := c.count(ctx, password)
	switch {
	case err == nil:
		return n >= max(c.Threshold, 1), nil
	case ctx.Err() != nil:
		return false, fmt.Errorf("pwned: %w", ctx.Err())
	case c.FailClosed:
		return false, err
	}
	cmp.Or(c.Logger, slog.Default()).WarnContext(ctx, "pwned: the breach check failed; the password is accepted without it", "error", err)
	return false, nil
}

// count returns how many times password was seen, per the API.
func (c *Checker) count(ctx context.Context, password string) (int, error) {
	sum := sha1.Sum([]byte(password))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := hash[:5], hash[5:]

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := strings.TrimRight(cmp.Or(c.BaseURL, DefaultBaseURL), "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/range/"+prefix, nil)
	if err != nil {
		return 0, errors.New("pwned: BaseURL is not a valid URL")
	}
	req.Header.Set("Add-Padding", "true")
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		// The URL holds the prefix: keep it out of the error, which
		// may be logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("pwned: range request: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("pwned: range request: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	switch {
	case err != nil:
		return 0, fmt.Errorf("pwned: reading the range answer: %w", err)
	case len(body) > maxBody:
		return 0, fmt.Errorf("pwned: the range answer exceeds %d bytes", maxBody)
	}
	return match(string(body), suffix)
}

// match returns the count of suffix in a range answer: lines of a
// 35-hex-digit hash suffix, a colon and a count, each ending in CRLF (or
// LF). Any malformed line, or an answer without lines, is an error.
func match(body, suffix string) (int, error) {
	found, lines := 0, 0
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		lines++
		s, n, ok := strings.Cut(line, ":")
		count, err := strconv.Atoi(n)
		if !ok || len(s) != len(suffix) || !isHex(s) || err != nil || count < 0 {
			return 0, fmt.Errorf("pwned: malformed range answer at line %d", lines)
		}
		if strings.EqualFold(s, suffix) {
			found = count
		}
	}
	if lines == 0 {
		return 0, errors.New("pwned: empty range answer")
	}
	return found, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	qrcode "github.com/skip2/go-qrcode"
)

// Sentinel errors of Code and Verify. Check them with errors.Is.
var (
	// ErrMalformed is returned by Verify when the code is not exactly six
	// ASCII digits once surrounding white space is trimmed.
	ErrMalformed = errors.New("totp: malformed code")
	// ErrInvalid is returned by Verify when a well-formed code matches none
	// of the accepted steps.
	ErrInvalid = errors.New("totp: invalid code")
	// ErrReplayed is returned by Verify when the code matches a step that is
	// not newer than the last accepted one.
	ErrReplayed = errors.New("totp: code already used")
	// ErrSecret is returned by Code and Verify when the secret is not base32
	// (RFC 4648) or is shorter than MinSecretBytes once decoded.
	ErrSecret = errors.New("totp: invalid secret")
)

const (
	// Period is the length of one TOTP time step.
	Period = 30 * time.Second
	// Digits is the number of digits of a code.
	Digits = 6
	// Skew is the number of steps before and after the current one that
	// Verify accepts.
	Skew = 1
	// SecretBytes is the size of the secrets GenerateSecret returns (160
	// bits, as RFC 4226 recommends).
	SecretBytes = 20
	// MinSecretBytes is the smallest secret Code and Verify accept (128
	// bits, the minimum of RFC 4226).
	MinSecretBytes = 16

	// maxCodeInput bounds the code Verify looks at before trimming it, so
	// that a huge input is refused after a length check alone.
	maxCodeInput  = 64
	periodSeconds = int64(Period / time.Second)
)

// b32 is base32 (RFC 4648) without padding, the form authenticator apps use.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// hotpOpts are the authenticator-compatible parameters: SHA-1, six digits.
var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// GenerateSecret returns a new SecretBytes-byte secret read from r, encoded
// as upper-case base32 (RFC 4648) without padding. Production code passes
// crypto/rand.Reader; an error from r is returned wrapped.
func GenerateSecret(r io.Reader) (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("totp: read random secret: %w", err)
	}
	return b32.EncodeToString(b), nil
}

// URI returns the otpauth:// key URI of a TOTP secret, the text an
// authenticator app reads from the QR code:
//
//	otpauth://totp/Issuer:account?secret=...&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// Issuer and account are percent-encoded (a space as %20, a colon as %3A,
// "@" kept), so that neither can alter the label or the query. An empty
// issuer leaves the label as the account alone and omits the issuer
// parameter.
func URI(issuer, account, secret string) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(escape(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	fmt.Fprintf(&b, "&algorithm=SHA1&digits=%d&period=%d", Digits, periodSeconds)
	return b.String()
}

// uriEscaper turns url.QueryEscape's "+" into "%20" (authenticator apps do
// not read "+" as a space in the label) and restores "@", which needs no
// escaping. QueryEscape writes "+" only for a space and "%40" only for "@".
var uriEscaper = strings.NewReplacer("+", "%20", "%40", "@")

func escape(s string) string { return uriEscaper.Replace(url.QueryEscape(s)) }

// QRSize is the smallest width and height in pixels of the PNG QRDataURL
// renders.
const QRSize = 256

// qrQuietZone is the blank border, in modules, that go-qrcode draws on each
// side of a symbol.
const qrQuietZone = 4

// QRDataURL renders uri as a PNG QR code (error correction level M) and
// returns it as a data URL, "data:image/png;base64,...", ready for an <img>
// src. Every module is a whole number of pixels, so the image is square and
// at least QRSize pixels wide. It fails only when uri is too long for a QR
// code.
func QRDataURL(uri string) (string, error) {
	q, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("totp: render QR code: %w", err)
	}
	modules := 17 + 4*q.VersionNumber + 2*qrQuietZone
	scale := (QRSize + modules - 1) / modules
	png, err := q.PNG(-scale) // a negative size means pixels per module
	if err != nil {
		return "", fmt.Errorf("totp: render QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// Step returns the TOTP time step of t: its Unix time divided by 30 s,
// rounded down.
func Step(t time.Time) int64 {
	u := t.Unix()
	s := u / periodSeconds
	if u%periodSeconds < 0 {
		s--
	}
	return s
}

// Code returns the six-digit code of secret (base32) at time t. It returns
// ErrSecret for a secret Verify would refuse, and an error for a time before
// the Unix epoch.
func Code(secret string, t time.Time) (string, error) {
	secret, err := normalizeSecret(secret)
	if err != nil {
		return "", err
	}
	step := Step(t)
	if step < 0 {
		return "", errors.New("totp: time before the Unix epoch")
	}
	return codeAt(secret, step)
}

// Verify checks code against secret (base32) at time now. It accepts the
// codes of the previous, current and next 30-second step and returns the
// step number (Unix time / 30) the code matched.
//
// lastStep is the step last accepted for this secret (0 if none); a code
// whose step is not greater gives ErrReplayed, so a code is never accepted
// twice and an older code is refused after a newer one. The caller stores
// the returned step as the new lastStep in the same atomic update that
// accepts the code.
//
// Errors: ErrMalformed when code, with surrounding white space trimmed, is
// not exactly six ASCII digits (a code longer than 64 bytes is refused
// before it is even trimmed); ErrSecret for a bad secret; ErrInvalid when no
// accepted step matches; ErrReplayed as above. Codes are compared in
// constant time, and all accepted steps are computed whether or not an
// earlier one matched.
func Verify(secret, code string, now time.Time, lastStep int64) (step int64, err error) {
	code, ok := parseCode(code)
	if !ok {
		return 0, ErrMalformed
	}
	secret, err = normalizeSecret(secret)
	if err != nil {
		return 0, err
	}
	current := Step(now)
	matched := false
	for s := current - Skew; s <= current+Skew; s++ {
		if s < 0 {
			continue
		}
		want, err := codeAt(secret, s)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			// The latest matching step wins: a code that also matches an
			// older, already used step stays valid for its newest one.
			matched, step = true, s
		}
	}
	switch {
	case !matched:
		return 0, ErrInvalid
	case step <= lastStep:
		return 0, ErrReplayed
	}
	return step, nil
}

// parseCode trims code and reports whether it is exactly Digits ASCII
// digits. Inputs longer than maxCodeInput are refused before any other work.
func parseCode(code string) (string, bool) {
	if len(code) > maxCodeInput {
		return "", false
	}
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// normalizeSecret upper-cases secret and strips its padding, and checks that
// it decodes to at least MinSecretBytes bytes.
func normalizeSecret(secret string) (string, error) {
	s := strings.ToUpper(strings.TrimRight(secret, "="))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < MinSecretBytes {
		return "", ErrSecret
	}
	return s, nil
}

// codeAt returns the code of a normalized secret at step s >= 0.
func codeAt(secret string, s int64) (string, error) {
	c, err := hotp.GenerateCodeCustom(secret, uint64(s), hotpOpts)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSecret, err)
	}
	return c, nil
}

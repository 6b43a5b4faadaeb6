package totp_test

import (
	"bytes"
	"encoding/base32"
	"errors"
	"math"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/totp"
)

// rfcSecret is the SHA-1 seed of RFC 6238 appendix B, base32 encoded.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// testSecret is a fixed 160-bit secret.
const testSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// testNow is a fixed instant in the middle of a step.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		want string // 8 digits, RFC 6238 appendix B, SHA-1
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0).UTC()
		// The 8-digit vector exactly, through the same library.
		got8, err := pqtotp.GenerateCodeCustom(rfcSecret, at, pqtotp.ValidateOpts{
			Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			t.Fatalf("8-digit code at %d: %v", tt.unix, err)
		}
		if got8 != tt.want {
			t.Errorf("8-digit code at %d: got %s, want %s", tt.unix, got8, tt.want)
		}
		got, err := totp.Code(rfcSecret, at)
		if err != nil {
			t.Fatalf("Code at %d: %v", tt.unix, err)
		}
		if want := tt.want[2:]; got != want {
			t.Errorf("Code at %d: got %s, want %s", tt.unix, got, want)
		}
		step, err := totp.Verify(rfcSecret, tt.want[2:], at, 0)
		if err != nil || step != tt.unix/30 {
			t.Errorf("Verify at %d: got (%d, %v), want (%d, nil)", tt.unix, step, err, tt.unix/30)
		}
	}
}

func TestVerifyAgainstOathtool(t *testing.T) {
	oathtool, err := exec.LookPath("oathtool")
	if err != nil {
		testenv.Skip(t, "oathtool not on PATH (Debian/Ubuntu: apt-get install oathtool); skipping the independent TOTP check")
	}
	secret, err := totp.GenerateSecret(bytes.NewReader([]byte("an independent seed!")))
	if err != nil {
		t.Fatal(err)
	}
	times := []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 7, 14, 12, 0, 0, 0, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
		time.Date(2099, 12, 31, 23, 59, 30, 0, time.UTC),
	}
	for _, at := range times {
		out, err := exec.CommandContext(t.Context(), oathtool, "--totp", "-b", secret,
			"--now", at.Format("2006-01-02 15:04:05 UTC")).Output()
		if err != nil {
			t.Fatalf("oathtool at %s: %v", at, err)
		}
		code := strings.TrimSpace(string(out))
		if len(code) != 6 {
			t.Fatalf("oathtool at %s: got output %q, want 6 digits", at, out)
		}
		step, err := totp.Verify(secret, code, at, 0)
		if err != nil || step != totp.Step(at) {
			t.Errorf("Verify(oathtool code %s) at %s: got (%d, %v), want (%d, nil)", code, at, step, err, totp.Step(at))
		}
		if got, err := totp.Code(secret, at); err != nil || got != code {
			t.Errorf("Code at %s: got (%s, %v), want (%s, nil)", at, got, err, code)
		}
	}
}

func mustCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.Code(secret, at)
	if err != nil {
		t.Fatalf("Code(%s): %v", at, err)
	}
	return c
}

func TestVerifySkew(t *testing.T) {
	cur := totp.Step(testNow)
	tests := []struct {
		name     string
		offset   int64 // steps from now
		wantStep int64
		wantErr  error
	}{
		{"two steps ago", -2, 0, totp.ErrInvalid},
		{"previous step", -1, cur - 1, nil},
		{"current step", 0, cur, nil},
		{"next step", 1, cur + 1, nil},
		{"two steps ahead", 2, 0, totp.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := mustCode(t, testSecret, testNow.Add(time.Duration(tt.offset)*totp.Period))
			step, err := totp.Verify(testSecret, code, testNow, 0)
			if !errors.Is(err, tt.wantErr) || step != tt.wantStep {
				t.Errorf("got (%d, %v), want (%d, %v)", step, err, tt.wantStep, tt.wantErr)
			}
		})
	}
}

func TestVerifyStepBoundaries(t *testing.T) {
	// The first and last second of one step give the same code and step.
	start := time.Unix(totp.Step(testNow)*30, 0)
	end := start.Add(29 * time.Second)
	if a, b := mustCode(t, testSecret, start), mustCode(t, testSecret, end); a != b {
		t.Errorf("codes within one step: got %s and %s, want equal", a, b)
	}
	if got, want := totp.Step(end.Add(time.Second)), totp.Step(start)+1; got != want {
		t.Errorf("Step after the last second: got %d, want %d", got, want)
	}
	if got, want := totp.Step(time.Unix(-1, 0)), int64(-1); got != want {
		t.Errorf("Step(-1 s): got %d, want %d", got, want)
	}
}

func TestVerifyReplay(t *testing.T) {
	cur := totp.Step(testNow)
	codeAt := func(offset int64) string {
		return mustCode(t, testSecret, testNow.Add(time.Duration(offset)*totp.Period))
	}

	step, err := totp.Verify(testSecret, codeAt(0), testNow, 0)
	if err != nil || step != cur {
		t.Fatalf("first use: got (%d, %v), want (%d, nil)", step, err, cur)
	}
	tests := []struct {
		name     string
		offset   int64
		lastStep int64
		wantStep int64
		wantErr  error
	}{
		{"same code again", 0, cur, 0, totp.ErrReplayed},
		{"older step after newer", -1, cur, 0, totp.ErrReplayed},
		{"current after next was used", 0, cur + 1, 0, totp.ErrReplayed},
		{"previous after next was used", -1, cur + 1, 0, totp.ErrReplayed},
		{"next after current was used", 1, cur, cur + 1, nil},
		{"current after previous was used", 0, cur - 1, cur, nil},
		{"wrong code is invalid, not replayed", -2, cur, 0, totp.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := totp.Verify(testSecret, codeAt(tt.offset), testNow, tt.lastStep)
			if !errors.Is(err, tt.wantErr) || step != tt.wantStep {
				t.Errorf("got (%d, %v), want (%d, %v)", step, err, tt.wantStep, tt.wantErr)
			}
		})
	}
}

// TestVerifyRacingReplay submits one code from many goroutines through the
// read-check-store pattern UserStore.UpdateUser provides: exactly one wins.
func TestVerifyRacingReplay(t *testing.T) {
	code := mustCode(t, testSecret, testNow)
	var (
		mu       sync.Mutex
		lastStep int64
		wins     int
		replays  int
		wg       sync.WaitGroup
	)
	const n = 32
	for range n {
		wg.Go(func() {
			mu.Lock() // stands for the store's atomic update
			defer mu.Unlock()
			step, err := totp.Verify(testSecret, code, testNow, lastStep)
			switch {
			case err == nil:
				lastStep = step
				wins++
			case errors.Is(err, totp.ErrReplayed):
				replays++
			default:
				t.Errorf("Verify: got %v, want nil or ErrReplayed", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || replays != n-1 {
		t.Errorf("got %d wins and %d replays, want 1 and %d", wins, replays, n-1)
	}
}

// TestVerifyCollidingSteps uses two adjacent steps that share a code (found
// by search) to show the latest matching step is the one returned, so the
// same six digits are never accepted twice.
func TestVerifyCollidingSteps(t *testing.T) {
	const code, first = "356476", int64(50937615)
	for _, s := range []int64{first, first + 1} {
		if got := mustCode(t, testSecret, time.Unix(s*30, 0)); got != code {
			t.Fatalf("code of step %d: got %s, want %s", s, got, code)
		}
	}
	now := time.Unix((first+1)*30, 0)
	step, err := totp.Verify(testSecret, code, now, 0)
	if err != nil || step != first+1 {
		t.Fatalf("first use: got (%d, %v), want (%d, nil)", step, err, first+1)
	}
	if _, err := totp.Verify(testSecret, code, now, step); !errors.Is(err, totp.ErrReplayed) {
		t.Errorf("second use: got %v, want ErrReplayed", err)
	}
	// Used in the earlier step, it is still the fresh code of the later one.
	if step, err := totp.Verify(testSecret, code, now, first); err != nil || step != first+1 {
		t.Errorf("after the earlier step: got (%d, %v), want (%d, nil)", step, err, first+1)
	}
}

func TestVerifyMalformed(t *testing.T) {
	huge := strings.Repeat("1", 10_000)
	tests := []struct {
		name, code string
	}{
		{"empty", ""},
		{"blank", "   "},
		{"letters", "abcdef"},
		{"five digits", "12345"},
		{"seven digits", "1234567"},
		{"Arabic-Indic digits", "١٢٣٤٥٦"},
		{"fullwidth digits", "１２３４５６"},
		{"10 kB", huge},
		{"inner space", "12 3456"},
		{"sign", "+12345"},
		{"dash", "123-456"},
		{"NUL", "12345\x00"},
		{"invalid UTF-8", "12345\xff"},
		// Trimming would leave six digits: the length check comes first.
		{"1 MB of spaces around a code", strings.Repeat(" ", 1<<20) + "123456"},
		{"65 bytes", strings.Repeat(" ", 59) + "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := totp.Verify(testSecret, tt.code, testNow, 0)
			if !errors.Is(err, totp.ErrMalformed) || step != 0 {
				t.Errorf("got (%d, %v), want (0, ErrMalformed)", step, err)
			}
			// Malformed input is refused before the secret is looked at.
			if _, err := totp.Verify("", tt.code, testNow, 0); !errors.Is(err, totp.ErrMalformed) {
				t.Errorf("with a bad secret: got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestVerifyTrimsSurroundingSpace(t *testing.T) {
	code := mustCode(t, testSecret, testNow)
	for _, in := range []string{" " + code, code + " ", "\t" + code + "\n", strings.Repeat(" ", 29) + code + strings.Repeat(" ", 29)} {
		if _, err := totp.Verify(testSecret, in, testNow, 0); err != nil {
			t.Errorf("Verify(%q): got %v, want nil", in, err)
		}
	}
}

func TestVerifyWrongSecret(t *testing.T) {
	code := mustCode(t, testSecret, testNow)
	other := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if _, err := totp.Verify(other, code, testNow, 0); !errors.Is(err, totp.ErrInvalid) {
		t.Errorf("code of another secret: got %v, want ErrInvalid", err)
	}
}

func TestSecretValidation(t *testing.T) {
	tests := []struct {
		name, secret string
		wantErr      error
	}{
		{"generated", testSecret, nil},
		{"lower case", strings.ToLower(testSecret), nil},
		{"padded", "GEZDGNBVGY3TQOJQGEZDGNBVGY======", nil}, // 16 bytes
		{"empty", "", totp.ErrSecret},
		{"not base32", "JBSWY3DPEHPK3PX!JBSWY3DPEHPK3PXP", totp.ErrSecret},
		{"digits 0 and 1", "JBSWY3DPEHPK3PX0JBSWY3DPEHPK3PX1", totp.ErrSecret},
		{"80 bits", "JBSWY3DPEHPK3PXP", totp.ErrSecret},
		{"bad length", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJ", totp.ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := totp.Code(tt.secret, testNow)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Code: got %v, want %v", err, tt.wantErr)
			}
			_, err = totp.Verify(tt.secret, "123456", testNow, 0)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCodeBeforeEpoch(t *testing.T) {
	if c, err := totp.Code(testSecret, time.Unix(-1, 0)); err == nil {
		t.Errorf("got (%s, nil), want an error", c)
	}
	// Near the epoch the negative previous step is skipped, not wrapped
	// around to counter 2^64-1.
	code := mustCode(t, testSecret, time.Unix(0, 0))
	if step, err := totp.Verify(testSecret, code, time.Unix(10, 0), -1); err != nil || step != 0 {
		t.Errorf("Verify at the epoch: got (%d, %v), want (0, nil)", step, err)
	}
	wrapped, err := hotp.GenerateCode(testSecret, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	if step, err := totp.Verify(testSecret, wrapped, time.Unix(10, 0), -5); !errors.Is(err, totp.ErrInvalid) {
		t.Errorf("code of counter 2^64-1 at the epoch: got (%d, %v), want ErrInvalid", step, err)
	}
}

func TestGenerateSecret(t *testing.T) {
	seed := bytes.Repeat([]byte{0xAB}, 20)
	s, err := totp.GenerateSecret(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if want := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
	if len(s) != 32 || strings.Contains(s, "=") {
		t.Errorf("got %q, want 32 base32 characters without padding", s)
	}
	if _, err := totp.Code(s, testNow); err != nil {
		t.Errorf("Code with a generated secret: got %v, want nil", err)
	}
	if _, err := totp.GenerateSecret(bytes.NewReader(seed[:19])); err == nil {
		t.Error("short random source: got nil error, want one")
	}
}

func TestURI(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXP"
	if got, want := totp.URI("Example", "alice@example.com", secret),
		"otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	tests := []struct {
		name, issuer, account string
	}{
		{"plain", "Example", "alice@example.com"},
		{"spaces", "ACME Co", "bob smith@example.com"},
		{"plus address", "Acme", "alice+tag@example.com"},
		{"query injection", "Evil&secret=AAAA&issuer=x#frag", "a?b=c&d@example.com"},
		{"non-ASCII", "Café ☕", "zoë@example.com"},
		{"percent", "100%", "a%20b@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri := totp.URI(tt.issuer, tt.account, secret)
			for i := 0; i < len(uri); i++ {
				if uri[i] <= ' ' || uri[i] > '~' {
					t.Fatalf("got byte %q in %s, want printable ASCII", uri[i], uri)
				}
			}
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatalf("url.Parse(%s): %v", uri, err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Errorf("got scheme %q host %q, want otpauth and totp", u.Scheme, u.Host)
			}
			if got, want := u.Path, "/"+tt.issuer+":"+tt.account; got != want {
				t.Errorf("label: got %q, want %q", got, want)
			}
			if u.Fragment != "" {
				t.Errorf("fragment: got %q, want none", u.Fragment)
			}
			q := u.Query()
			want := url.Values{
				"secret": {secret}, "issuer": {tt.issuer},
				"algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"},
			}
			if len(q) != len(want) {
				t.Errorf("query keys: got %v, want %v", q, want)
			}
			for k, v := range want {
				if got := q[k]; len(got) != 1 || got[0] != v[0] {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
			// pquerna/otp reads the same key back.
			key, err := otp.NewKeyFromURL(uri)
			if err != nil {
				t.Fatalf("otp.NewKeyFromURL: %v", err)
			}
			if key.Issuer() != tt.issuer || key.AccountName() != tt.account || key.Secret() != secret ||
				key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
				t.Errorf("otp key: got issuer %q account %q secret %q period %d digits %d alg %v",
					key.Issuer(), key.AccountName(), key.Secret(), key.Period(), key.Digits(), key.Algorithm())
			}
		})
	}
}

func TestURIEscapesColonAndSpace(t *testing.T) {
	uri := totp.URI("A:B C", "x:y", "JBSWY3DPEHPK3PXP")
	if want := "otpauth://totp/A%3AB%20C:x%3Ay?"; !strings.HasPrefix(uri, want) {
		t.Errorf("got %s, want prefix %s", uri, want)
	}
	if strings.Contains(uri, "+") {
		t.Errorf("got %s, want spaces as %%20, never +", uri)
	}
}

func TestURIWithoutIssuer(t *testing.T) {
	got := totp.URI("", "alice@example.com", "JBSWY3DPEHPK3PXP")
	want := "otpauth://totp/alice@example.com?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func decodeQR(t *testing.T, dataURL string) string {
	t.Helper()
	text, img := testenv.DecodeQR(t, dataURL)
	if b := img.Bounds(); b.Dx() < totp.QRSize || b.Dy() != b.Dx() {
		t.Errorf("image size: got %dx%d, want a square at least %d wide", b.Dx(), b.Dy(), totp.QRSize)
	}
	return text
}

func TestQRDataURL(t *testing.T) {
	secret, err := totp.GenerateSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 20)))
	if err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{
		totp.URI("Example", "alice@example.com", secret),
		totp.URI("Café ☕ & Co", "zoë+2fa@example.com", secret),
		totp.URI(strings.Repeat("Long Issuer ", 10), strings.Repeat("x", 100)+"@example.com", secret),
	} {
		got, err := totp.QRDataURL(uri)
		if err != nil {
			t.Fatalf("QRDataURL: %v", err)
		}
		if text := decodeQR(t, got); text != uri {
			t.Errorf("decoded QR: got %s, want %s", text, uri)
		}
	}
}

func TestQRDataURLTooLong(t *testing.T) {
	if _, err := totp.QRDataURL(strings.Repeat("x", 5000)); err == nil {
		t.Error("got nil error for 5000 bytes, want one (beyond QR capacity)")
	}
}

func BenchmarkVerify(b *testing.B) {
	code := mustCode(b, testSecret, testNow)
	for b.Loop() {
		if _, err := totp.Verify(testSecret, code, testNow, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyMalformedHuge(b *testing.B) {
	code := strings.Repeat(" ", 1<<20) + "123456"
	for b.Loop() {
		if _, err := totp.Verify(testSecret, code, testNow, 0); !errors.Is(err, totp.ErrMalformed) {
			b.Fatal(err)
		}
	}
}

func BenchmarkQRDataURL(b *testing.B) {
	uri := totp.URI("Example", "alice@example.com", testSecret)
	for b.Loop() {
		if _, err := totp.QRDataURL(uri); err != nil {
			b.Fatal(err)
		}
	}
}

package main

import (
	"context"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authsys-go/authsys"
)

// The web app's passkeys, in Chromium with the DevTools virtual
// authenticator (a platform authenticator that holds discoverable
// credentials and verifies its user), on the page at http://localhost,
// the origin of the example's passkeys.

// addAuthenticator gives the page's tab a virtual authenticator: a
// passkey device that answers at once, as a person who touches the sensor.
// It returns the authenticator's ID.
func (p *webPage) addAuthenticator() webauthn.AuthenticatorID {
	p.t().Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webWait)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		p.fail("enabling WebAuthn: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		p.fail("adding a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials returns the credentials the authenticator holds.
func (p *webPage) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	p.t().Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webWait)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		p.fail("the authenticator's credentials: %v", err)
	}
	return res.Credentials
}

// freePort returns a TCP port of 127.0.0.1 free a moment ago, for a
// server whose frontend URL must name its port before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestWebAppPasskeys runs the passkey flows of the web app: sign up, add a
// passkey, log in with it alone, rename it, use it as the second factor
// after the password (remembering the browser), confirm with it in the
// re-authentication dialog to remove it, and see a login with the removed
// passkey refused in place. Then the app without WebAuthn, and at an
// address where passkeys do not work.
func TestWebAppPasskeys(t *testing.T) {
	start := time.Now()
	browserCtx := webBrowser(t)
	dir := t.TempDir()
	// As go run ./examples/server runs (Secure cookies), with the email
	// links on http://localhost, where the passkeys work.
	port := freePort(t)
	flags := slices.DeleteFunc(srvLocalFlags(dir), func(f string) bool { return f == "-insecure-cookies" })
	s := srvStart(t, append(flags, "-addr", "127.0.0.1:"+port, "-frontend-url", "http://localhost:"+port,
		"-db", ":memory:", "-no-rate-limits")...)
	base := "http://localhost:" + port
	run := &webRun{t: t, shots: artifactDir(t)}
	t.Logf("screenshots: %s", run.shots)

	ok := true
	step := func(name string, fn func(t *testing.T)) {
		if !ok {
			return
		}
		ok = t.Run(name, func(t *testing.T) {
			run.t = t
			fn(t)
		})
		run.t = t
	}

	const (
		email = "pat@example.com"
		name  = "Pat Passkey"
	)
	a := newWebPage(run, browserCtx, base, "passkeys")
	authenticator := a.addAuthenticator()

	step("sign up and verify through the mailbox", func(t *testing.T) {
		a.open("/signup")
		a.fill("#signup", "Email", email)
		a.fill("#signup", "Password", webPassword)
		a.fill("#signup", "Display name", name)
		a.press("#signup", "Create account")
		a.waitText("#view .message", "We sent a link to "+email)
		a.openMail("verify_account", email, "Verify your email address")
		a.press("#verify", "Verify my email address")
		a.waitText("#view .message", "Log in")
	})

	step("log in with the password and add a passkey", func(t *testing.T) {
		a.press("#view", "Log in")
		a.waitFor("the passkey button", `document.querySelector("#login-passkey")`)
		a.shot("login-passkey")
		a.login(email, webPassword, "", false, false)
		a.waitText("#greeting", name)
		a.nav("Passkeys")
		a.waitView("Passkeys")
		a.waitFor("no passkey yet", `document.querySelector("#no-passkeys")`)
		a.shot("passkeys-empty")
		a.fill("#add-passkey", "Name", "Test laptop")
		a.press("#add-passkey", "Add a passkey")
		// A fresh session (the login): no re-authentication.
		a.waitText("#view .message", "The passkey “Test laptop” was added.")
		a.waitFocus("#view .message")
		a.waitFor("one passkey listed", `document.querySelectorAll("#passkey-list li").length === 1`)
		a.waitText("#passkey-list", "last used never")
		if n := len(a.credentials(authenticator)); n != 1 {
			a.fail("the authenticator holds %d credentials, want the new passkey", n)
		}
		a.shot("passkeys")
	})

	step("log in with the passkey alone", func(t *testing.T) {
		a.logout()
		logins := a.requestCount("POST /api/auth/login/")
		a.press("#view", "Sign in with a passkey")
		a.notice("You are logged in as " + email)
		a.waitView("Your account")
		a.waitText("#profile", name)
		if n := a.requestCount("POST /api/auth/login/"); n != logins {
			a.fail("the passkey login posted to /login/ %d times", n-logins)
		}
	})

	step("rename it", func(t *testing.T) {
		a.press("#view", "Passkeys")
		a.waitView("Passkeys")
		a.waitFor("its last use", `!document.querySelector("#passkey-list").textContent.includes("last used never")`)
		a.press("#passkey-list li", "Rename")
		a.waitFocus("#passkey-list input")
		a.fill("#passkey-list", "New name", "")
		a.press("#passkey-list", "Save")
		a.waitFor("the name's error", `document.querySelector("#passkey-list .field-error:not([hidden])")`)
		a.waitFocus("#passkey-list input[aria-invalid=true]")
		a.fill("#passkey-list", "New name", "Work laptop")
		a.shot("passkey-rename")
		a.press("#passkey-list", "Save")
		a.waitText("#view .message", "now named “Work laptop”")
		a.waitText("#passkey-list .passkey-name", "Work laptop")
	})

	step("the passkey is the second factor after the password", func(t *testing.T) {
		a.logout()
		a.fill("#login", "Email", email)
		a.fill("#login", "Password", webPassword)
		a.press("#login", "Log in")
		a.waitView("Two-factor authentication")
		// No TOTP: no code to type, the passkey only.
		if webEval[bool](a, `!!document.querySelector("#login-code-code")`) {
			a.fail("the code field is shown for an account without TOTP")
		}
		a.shot("login-passkey-2fa")
		a.tick("#login-code", "Remember this browser")
		a.press("#login-code", "Use a passkey")
		a.notice("You are logged in as " + email)
		a.waitView("Your account")
	})

	step("remove it, confirming with the passkey", func(t *testing.T) {
		// A trusted browser: the password alone, and the session is not
		// fresh.
		a.logout()
		a.login(email, webPassword, "", false, false)
		a.press("#view", "Passkeys")
		a.waitView("Passkeys")
		a.press("#passkey-list li", "Remove")
		a.waitFocus("#passkey-list .question")
		a.press("#passkey-list", "Keep it")
		a.waitFocus("#passkey-list button.danger")
		a.press("#passkey-list li", "Remove")
		a.press("#passkey-list", "Remove the passkey")
		// 403 reauthentication_required: the account's second factor is
		// its passkey, so the dialog asks for it, not the password.
		a.waitFor("the re-authentication dialog", `document.querySelector("dialog[open]")`)
		a.waitFocus("dialog[open] #reauth-passkey")
		if webEval[bool](a, `!!document.querySelector("dialog[open] input")`) {
			a.fail("the dialog asks for the password of an account that confirms with its passkey")
		}
		a.shot("reauth-passkey")
		a.press("dialog", "Use a passkey")
		a.waitFor("the dialog to close", `!document.querySelector("dialog")`)
		a.waitText("#view .message", "was removed")
		a.waitFor("no passkey", `document.querySelector("#no-passkeys")`)
		if n := a.requestCount("POST /api/auth/passkeys/reauthenticate/finish/"); n != 1 {
			a.fail("got %d passkey re-authentications, want 1", n)
		}
	})

	step("the removed passkey logs in no more", func(t *testing.T) {
		a.logout()
		// The authenticator still holds it and offers it; the server
		// refuses it, and the page says so by the button.
		a.press("#view", "Sign in with a passkey")
		a.waitText(".passkey-login .action-result .message", "The passkey was not accepted")
		a.waitFocus(".passkey-login .action-result .message")
		if a.path() != "/login" {
			a.fail("the refused login left the login page for %s", a.path())
		}
		a.shot("login-passkey-refused")
	})

	step("with TOTP too, the second step takes a code or a passkey", func(t *testing.T) {
		// Another device, with a passkey device of its own.
		b := newWebPage(run, browserCtx, base, "totp-and-passkey")
		b.addAuthenticator()
		b.open("/login")
		b.login(email, webPassword, "", false, false)
		b.nav("Two-factor")
		b.press("#view", "Set up two-factor authentication")
		b.waitFor("the key", `document.querySelector("#totp-secret")`)
		secret := strings.ReplaceAll(webEval[string](b, `document.querySelector("#totp-secret").textContent`), " ", "")
		var clock totpClock
		b.fill("#enable-2fa", "Code from the app", clock.code(t, secret))
		b.press("#enable-2fa", "Turn on two-factor authentication")
		b.press("#view", "I have saved my codes")
		b.waitText("#two-factor-status", "On")
		b.nav("Passkeys")
		b.press("#add-passkey", "Add a passkey")
		b.waitText("#view .message", "was added")
		b.logout()
		b.fill("#login", "Email", email)
		b.fill("#login", "Password", webPassword)
		b.press("#login", "Log in")
		b.waitView("Two-factor authentication")
		b.waitFor("the code field", `document.querySelector("#login-code-code")`)
		b.waitText("#login-code-intro", "Or use a passkey")
		b.shot("login-code-or-passkey")
		b.press("#login-code", "Use a passkey")
		b.notice("You are logged in as " + email)
		if n := b.requestCount("POST /api/auth/passkeys/2fa/finish/"); n != 1 {
			b.fail("got %d passkey second steps, want 1", n)
		}
		b.checkConsole()
	})

	step("no passkey buttons without WebAuthn", func(t *testing.T) {
		c := newWebPage(run, browserCtx, base, "no-webauthn")
		ctx, cancel := context.WithTimeout(c.ctx, webWait)
		defer cancel()
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: "delete window.PublicKeyCredential;",
		}); err != nil {
			t.Fatal(err)
		}
		c.open("/login")
		c.waitView("Log in")
		if got := webEval[string](c, `typeof window.PublicKeyCredential + " " + !!document.querySelector("#login-passkey, .passkey-login, .passkey-elsewhere")`); got != "undefined false" {
			c.fail("without WebAuthn: got %q, want no PublicKeyCredential and no passkey control", got)
		}
		c.checkConsole()
	})

	step("at another address, a link to where passkeys work", func(t *testing.T) {
		c := newWebPage(run, browserCtx, s.url, "ip-address")
		c.open("/login")
		c.waitText(".passkey-elsewhere", "open this page at "+base+"/login")
		if webEval[bool](c, `!!document.querySelector("#login-passkey")`) {
			c.fail("the passkey button is offered on %s, where passkeys do not work", s.url)
		}
		c.shot("login-passkey-elsewhere")
	})

	step("passkeys off: none offered", func(t *testing.T) {
		off := srvStart(t, append(srvLocalFlags(t.TempDir()), "-db", ":memory:", "-passkeys-rpid=")...)
		c := newWebPage(run, browserCtx, off.url, "passkeys-off")
		c.open("/login")
		c.waitView("Log in")
		if webEval[bool](c, `!!document.querySelector("#login-passkey, .passkey-login, .passkey-elsewhere")`) {
			c.fail("a passkey control on a server without passkeys")
		}
		c.checkConsole()
	})

	a.checkConsole()
	t.Logf("the passkey flows took %s, %s of it for the audits and screenshots", time.Since(start).Round(time.Millisecond), run.shotTime.Round(time.Millisecond))
}

// TestPasskeysOf checks what the app is told of the passkeys: nothing
// while they are off, else the RP ID and the origins as location.origin
// writes them.
func TestPasskeysOf(t *testing.T) {
	for _, tc := range []struct {
		cfg  authsys.Config
		want appPasskeys
	}{
		{authsys.Config{Links: authsys.Links{FrontendURL: "http://127.0.0.1:8080"}}, appPasskeys{}},
		{
			authsys.Config{Links: authsys.Links{FrontendURL: "http://127.0.0.1:8080"}, Passkeys: authsys.Passkeys{RPID: "localhost", RPOrigins: []string{"http://localhost:8080"}}},
			appPasskeys{RPID: "localhost", Origins: []string{"http://localhost:8080"}},
		},
		{
			authsys.Config{Links: authsys.Links{FrontendURL: "https://App.Example.com:443/app/"}, Passkeys: authsys.Passkeys{RPID: "example.com"}},
			appPasskeys{RPID: "example.com", Origins: []string{"https://app.example.com"}},
		},
		{
			authsys.Config{Passkeys: authsys.Passkeys{RPID: "example.com", RPOrigins: []string{"https://example.com", "https://www.example.com:8443"}}},
			appPasskeys{RPID: "example.com", Origins: []string{"https://example.com", "https://www.example.com:8443"}},
		},
	} {
		if got := passkeysOf(tc.cfg); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("passkeysOf(%+v): got %+v, want %+v", tc.cfg.Passkeys, got, tc.want)
		}
	}
}

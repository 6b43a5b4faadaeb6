package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/authsys-go/authsys/internal/testenv"
	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/tokens"
)

// The web app's tests: headless Chromium (chromedp) uses the app at / of
// the example server as a person would, typing into fields found by their
// labels, pressing buttons found by their text and following the links of
// the development mailbox. A console error, an uncaught exception, a
// Content-Security-Policy violation or a request to another origin fails
// the test. Each page is captured at desktop and phone widths in the
// test's artifact directory (see artifactDir).

const (
	webWait     = 20 * time.Second // the longest wait for one action
	webPassword = "correct horse battery staple"
)

// webBrowser starts headless Chromium and returns the browser's context,
// for tabs made with newWebPage.
func webBrowser(t *testing.T) context.Context {
	t.Helper()
	return testenv.Chromium(t, chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 800))
}

// webRun is the state the pages of one test share: the (sub)test that runs
// now and where screenshots go.
type webRun struct {
	t        *testing.T
	shots    string
	shotTime time.Duration // spent capturing
}

// webPage is one tab in a browser context of its own (its own cookies: a
// device of the user).
type webPage struct {
	run  *webRun
	ctx  context.Context
	base string
	name string

	mu       sync.Mutex
	missing  []string // the URLs the test expects a 404 of
	problems []string
	requests []string // "METHOD /path" of every request, in order
}

// newWebPage opens a tab on base in a new browser context, watching its
// console and its requests.
func newWebPage(run *webRun, browserCtx context.Context, base, name string) *webPage {
	run.t.Helper()
	p := &webPage{run: run, base: base, name: name}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.listen))
	run.t.Cleanup(cancel)
	p.ctx = ctx
	// The first Do opens the tab, which lives as long as that call's
	// context: it gets no timeout.
	if err := chromedp.Do(ctx); err != nil {
		run.t.Fatalf("opening a tab: %v", err)
	}
	p.do("set the viewport", chromedp.EmulateViewport(1280, 800))
	return p
}

// listen runs in the tab's event loop: it records what fails the test.
func (p *webPage) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			p.problems = append(p.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		e := ev.Entry
		// An API refusal (a 4xx answer) is logged as a network error:
		// that is the API at work, and so is the 404 of a page the test
		// knows is missing. Anything else is a defect: a missing asset, a
		// CSP or Trusted Types violation, a script error.
		expected := e.Source == log.EntrySourceNetwork && (strings.HasPrefix(e.URL, p.base+"/api/auth/") || slices.Contains(p.missing, e.URL))
		if e.Level == log.EntryLevelError && !expected {
			p.problems = append(p.problems, fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL))
		}
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		switch {
		case strings.HasPrefix(u, p.base+"/"):
			p.requests = append(p.requests, ev.Request.Method+" "+strings.TrimPrefix(u, p.base))
		case strings.HasPrefix(u, "data:"), strings.HasPrefix(u, "blob:"):
		default:
			p.problems = append(p.problems, "a request to another origin: "+u)
		}
	}
}

func (p *webPage) t() *testing.T { return p.run.t }

// fail ends the test with msg, the page's address, its view's text and
// what its console reported.
func (p *webPage) fail(format string, args ...any) {
	t := p.t()
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.querySelector("main") || document.body).innerText`))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := filepath.Join(p.run.shots, "failed-"+p.name+".png")
		if os.WriteFile(name, png, 0o644) == nil {
			t.Logf("the page when it failed: %s", name)
		}
	}
	p.mu.Lock()
	problems := strings.Join(p.problems, "\n")
	p.mu.Unlock()
	t.Fatalf("%s: %s\npage: %s\nconsole: %s", p.name, fmt.Sprintf(format, args...), where, problems)
}

// checkConsole fails the test if the page reported a problem.
func (p *webPage) checkConsole() {
	p.t().Helper()
	p.mu.Lock()
	problems := slices.Clone(p.problems)
	p.mu.Unlock()
	if len(problems) > 0 {
		p.fail("the page reported:\n%s", strings.Join(problems, "\n"))
	}
}

// do runs actions with a timeout.
func (p *webPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t().Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func webEval[T any](p *webPage, expr string) T {
	p.t().Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true.
func (p *webPage) waitFor(what, expr string) {
	p.t().Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webWait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(webWait), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// scopeJS is the element the page's controls are looked up in: the open
// dialog if any (it makes the rest inert), else the element scope names.
func scopeJS(scope string) string {
	return fmt.Sprintf(`(document.querySelector("dialog[open]") || document.querySelector(%s))`, js(scope))
}

// control selects the form control whose label, within scope, starts
// with label: a field reached as a person reaches it, which also proves
// the label is tied to it.
func control(scope, label string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`(() => {
  const root = %s;
  const l = root && [...root.querySelectorAll("label")].find((l) => l.textContent.trim().startsWith(%s));
  return l && l.control ? l.control : undefined;
})()`, scopeJS(scope), js(label)))
}

// clickable selects the visible button or link within scope whose text is
// text.
func clickable(scope, text string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`(() => {
  const root = %s;
  return root ? [...root.querySelectorAll("button, a[href]")].find((b) => b.textContent.trim() === %s && b.offsetParent !== null) : undefined;
})()`, scopeJS(scope), js(text)))
}

// fill types value into the field labelled label.
func (p *webPage) fill(scope, label, value string) {
	p.t().Helper()
	sel := control(scope, label)
	p.do(fmt.Sprintf("type into %q", label), chromedp.WaitVisible(sel), chromedp.Focus(sel),
		// What was there goes, as a person selects it and deletes it.
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys(sel, value))
}

// press clicks the button or link whose text is text.
func (p *webPage) press(scope, text string) {
	p.t().Helper()
	p.do(fmt.Sprintf("press %q", text), chromedp.Click(clickable(scope, text)))
}

// tick clicks the check box labelled label.
func (p *webPage) tick(scope, label string) {
	p.t().Helper()
	p.do(fmt.Sprintf("tick %q", label), chromedp.Click(control(scope, label)))
}

// open loads path as a fresh page load and waits for the app's view.
func (p *webPage) open(path string) {
	p.t().Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path))
	p.waitFor("the view of "+path, `document.querySelector("#view h1")`)
}

// nav follows the main navigation's link (or button) named text.
func (p *webPage) nav(text string) {
	p.t().Helper()
	p.press("#nav", text)
}

// waitView waits for the view whose heading is title.
func (p *webPage) waitView(title string) {
	p.t().Helper()
	p.waitFor("the view "+title, fmt.Sprintf(`document.querySelector("#view h1")?.textContent === %s`, js(title)))
}

// waitText waits until the element sel contains text.
func (p *webPage) waitText(sel, text string) {
	p.t().Helper()
	p.waitFor(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`document.querySelector(%s)?.textContent.includes(%s)`, js(sel), js(text)))
}

// waitFocus waits until the focus is on an element matching sel.
func (p *webPage) waitFocus(sel string) {
	p.t().Helper()
	p.waitFor("the focus on "+sel, fmt.Sprintf(`document.activeElement && document.activeElement.matches(%s)`, js(sel)))
}

// notice waits for the live region's notice to contain text.
func (p *webPage) notice(text string) {
	p.t().Helper()
	p.waitText("#notice", text)
}

// path is the page's path.
func (p *webPage) path() string {
	return webEval[string](p, "location.pathname")
}

// requestCount counts the requests "METHOD /path" made so far.
func (p *webPage) requestCount(req string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if r == req || strings.HasPrefix(r, req+"?") {
			n++
		}
	}
	return n
}

// webAudit lists the accessibility defects the page's DOM shows: one h1 in
// the view, every control labelled, every reference by id resolving, every
// invalid field described by its error, every button and link named,
// every image with a text alternative, no id used twice.
const webAudit = `(() => {
  const out = [];
  const h1 = document.querySelectorAll("#view h1").length;
  if (h1 !== 1) out.push(h1 + " h1 elements in the view");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!el.labels.length && !el.getAttribute("aria-label")) out.push("an unlabelled control: " + el.outerHTML.slice(0, 100));
  }
  for (const el of document.querySelectorAll("[aria-describedby], [aria-labelledby], [aria-controls]")) {
    for (const attr of ["aria-describedby", "aria-labelledby", "aria-controls"]) {
      for (const id of (el.getAttribute(attr) || "").split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) out.push(attr + " names no element: " + id);
      }
    }
  }
  for (const el of document.querySelectorAll("[aria-invalid=true]")) {
    const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/);
    if (!ids.includes(el.id + "-error")) out.push("an invalid field not described by its error: " + el.id);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) out.push("a nameless " + el.tagName);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.getAttribute("alt")) out.push("an image without alt text");
  }
  const ids = new Set();
  for (const el of document.querySelectorAll("[id]")) {
    if (ids.has(el.id)) out.push("the id " + el.id + " is used twice");
    ids.add(el.id);
  }
  return out;
})()`

// frames waits for two animation frames: the layout is done.
const frames = `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`

// shot audits the page and captures it at desktop and phone widths as
// <name>-desktop.png and <name>-phone.png; on the phone it must not
// scroll sideways.
func (p *webPage) shot(name string) {
	t := p.t()
	t.Helper()
	defer func(start time.Time) { p.run.shotTime += time.Since(start) }(time.Now())
	if a := webEval[[]string](p, webAudit); len(a) > 0 {
		p.fail("accessibility audit of %s:\n%s", name, strings.Join(a, "\n"))
	}
	for _, size := range []struct {
		suffix string
		emu    chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 800)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait)},
	} {
		p.do("resize for "+size.suffix, size.emu)
		webEval[bool](p, frames)
		if size.suffix == "phone" {
			if w := webEval[[]int](p, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
				p.fail("%s scrolls sideways on a phone: %d px wide in a %d px viewport", name, w[0], w[1])
			}
		}
		ctx, cancel := context.WithTimeout(p.ctx, webWait)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			p.fail("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(p.run.shots, name+"-"+size.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.do("resize back", chromedp.EmulateViewport(1280, 800))
	p.checkConsole()
}

// openMail opens the development mailbox from the navigation, waits for
// the newest mail of kind to to, and follows its first link, which opens
// the landing page titled title.
func (p *webPage) openMail(kind, to, title string) {
	p.t().Helper()
	p.nav("Dev mailbox")
	p.waitView("Development mailbox")
	link := chromedp.JSPath(fmt.Sprintf(`(() => {
  const m = [...document.querySelectorAll("#mails li.mail")].find((m) => m.dataset.kind === %s && m.querySelector(".mail-to").textContent === %s);
  return m ? m.querySelector("a.mail-link") : undefined;
})()`, js(kind), js(to)))
	p.do(fmt.Sprintf("follow the %s mail to %s", kind, to), chromedp.Click(link))
	p.waitView(title)
}

// login logs in from the login page; code, when not empty, answers the
// second step (a backup code when backup), remembering the browser when
// remember. It returns on the page after the login.
func (p *webPage) login(email, password, code string, backup, remember bool) {
	p.t().Helper()
	if p.path() != "/login" {
		p.nav("Log in")
	}
	p.waitView("Log in")
	p.fill("#login", "Email", email)
	p.fill("#login", "Password", password)
	p.press("#login", "Log in")
	if code != "" {
		p.waitView("Two-factor authentication")
		if backup {
			p.press("#view", "Use a backup code instead")
			p.fill("#login-code", "Backup code", code)
		} else {
			p.fill("#login-code", "Authentication code", code)
		}
		if remember {
			p.tick("#login-code", "Remember this browser")
		}
		p.press("#login-code", "Verify")
	}
	// The account page, or the page ?next= names.
	p.notice("You are logged in as " + email)
}

// logout logs out from the navigation.
func (p *webPage) logout() {
	p.t().Helper()
	p.nav("Log out")
	p.waitView("Log in")
	p.notice("You are logged out.")
}

// totpClock hands out TOTP codes of steps never used before: the API
// accepts a step once, and the previous, current and next step.
type totpClock struct{ last int64 }

func (c *totpClock) code(t *testing.T, secret string) string {
	t.Helper()
	for {
		now := time.Now().Unix() / 30
		step := max(now, c.last+1)
		if step <= now+1 {
			c.last = step
			code, err := pqtotp.GenerateCode(secret, time.Unix(step*30, 0))
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
		time.Sleep(time.Until(time.Unix((now+1)*30, 0)) + 50*time.Millisecond)
	}
}

// TestWebApp runs every flow of the web app in Chromium against the
// example server (users in SQLite, mail in the development mailbox, rate
// limits off), then the signup fields of a server that declares one, then
// a 429 against a server with rate limits on.
func TestWebApp(t *testing.T) {
	start := time.Now()
	browserCtx := webBrowser(t)
	dir := t.TempDir()
	// As go run ./examples/server runs: users in SQLite, Secure cookies
	// (Chromium keeps them on http://127.0.0.1).
	flags := slices.DeleteFunc(srvLocalFlags(dir), func(f string) bool { return f == "-insecure-cookies" })
	s := srvStart(t, append(flags, "-db", filepath.Join(dir, "authsys.db"), "-no-rate-limits")...)
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

	a := newWebPage(run, browserCtx, s.url, "laptop")
	const (
		ann      = "ann@example.com"
		annName  = "Ann Example"
		annNew   = "ann.new@example.com"
		annOther = "ann.other@example.com"
	)
	password := webPassword
	var (
		secret string
		codes  []string // the backup codes shown
		clock  totpClock
	)

	step("home and not found", func(t *testing.T) {
		a.open("/")
		a.waitView("Welcome")
		a.shot("home")
		a.mu.Lock()
		a.missing = append(a.missing, s.url+"/no/such/page")
		a.mu.Unlock()
		a.open("/no/such/page")
		a.waitView("Page not found")
		a.press("#view", "Go to the start page")
		a.waitView("Welcome")
		a.waitFocus("#view h1")
	})

	step("signup with field errors, then success", func(t *testing.T) {
		a.press("#view", "Create an account")
		a.waitView("Create an account")
		a.waitFocus("#view h1")
		a.fill("#signup", "Email", ann)
		a.fill("#signup", "Password", "short")
		a.press("#signup", "Create account")
		// The API's field error appears under the field, which takes the
		// focus and is described by it.
		a.waitText("#signup-password-error", "too short")
		a.waitFocus("#signup-password")
		if got := webEval[string](a, `document.querySelector("#signup-password").getAttribute("aria-describedby")`); !strings.Contains(got, "signup-password-error") {
			a.fail("the password field is described by %q, want its error too", got)
		}
		a.shot("signup-errors")
		// The example's own field: its error (from its Validate) too.
		a.fill("#signup", "Password", password)
		a.fill("#signup", "Display name", strings.Repeat("n", maxDisplayName+1))
		a.press("#signup", "Create account")
		a.waitText("#signup-display_name-error", "at most 80")
		a.waitFocus("#signup-display_name")
		if got := webEval[string](a, `document.querySelector("#signup-password").getAttribute("aria-invalid") || ""`); got != "" {
			a.fail("the password's error stayed: aria-invalid=%q", got)
		}
		a.fill("#signup", "Display name", annName)
		a.press("#signup", "Create account")
		a.waitText("#view .message", "We sent a link to "+ann)
		a.waitFocus("#view .message")
		if got := webEval[string](a, `document.querySelector("#signup-password")?.getAttribute("aria-invalid") || ""`); got != "" {
			a.fail("the error state stayed: aria-invalid=%q", got)
		}
		a.shot("signup-done")
	})

	step("resend the verification email", func(t *testing.T) {
		a.press("#view", "Send the link again")
		a.waitView("Resend the verification email")
		a.fill("#resend", "Email", ann)
		a.press("#resend", "Send the link")
		a.waitFor("the answer", `document.querySelector("#view .message")`)
	})

	step("verify from the mailbox link: the page posts only on the button", func(t *testing.T) {
		a.nav("Dev mailbox")
		a.waitView("Development mailbox")
		a.waitText("#dev-warning", "Development only")
		a.waitFor("two verification mails", `document.querySelectorAll('#mails li.mail[data-kind="verify_account"]').length === 2`)
		a.shot("mailbox")
		a.openMail("verify_account", ann, "Verify your email address")
		if n := a.requestCount("POST /api/auth/verify-account/"); n != 0 {
			a.fail("opening the link posted %d times; want no post before the button", n)
		}
		a.shot("verify")
		a.press("#verify", "Verify my email address")
		a.waitText("#view .message", "Log in")
		if n := a.requestCount("POST /api/auth/verify-account/"); n != 1 {
			a.fail("got %d verification posts, want 1", n)
		}
		a.shot("verify-done")
	})

	step("login with the keyboard only", func(t *testing.T) {
		a.press("#view", "Log in")
		a.waitView("Log in")
		a.waitFocus("#view h1")
		tab := func(want string) {
			a.do("press Tab", chromedp.KeyEvent("\t"))
			a.waitFocus(want)
		}
		tab("#login-email")
		// The focused field shows a focus ring.
		if w := webEval[string](a, `getComputedStyle(document.activeElement).outlineWidth`); w == "0px" || w == "" {
			a.fail("the focused field has no visible outline (outline-width %q)", w)
		}
		a.do("type the email", chromedp.KeyEvent(ann))
		tab("#login-password")
		a.do("type the password and Enter", chromedp.KeyEvent(password+"\r"))
		a.waitView("Your account")
		a.notice("You are logged in as " + ann)
		a.waitText("#profile", ann)
		a.waitText("#greeting", annName)
		a.waitText("#profile", annName)
		a.shot("account")
	})

	step("change the password", func(t *testing.T) {
		a.press("#view", "Change your password")
		a.waitView("Change your password")
		a.fill("#password", "Current password", "not my password")
		a.fill("#password", "New password", "a brand new passphrase")
		a.press("#password", "Change password")
		a.waitFor("the error under the current password", `!document.querySelector("#password-current_password-error").hidden`)
		a.waitFocus("#password-current_password")
		a.shot("password-error")
		a.fill("#password", "Current password", password)
		a.press("#password", "Change password")
		a.waitFor("the confirmation", `document.querySelector("#view .message:not(.error)")`)
		password = "a brand new passphrase"
		a.shot("password-done")
	})

	step("set up 2FA from the QR code's secret", func(t *testing.T) {
		a.nav("Two-factor")
		a.waitView("Two-factor authentication")
		a.waitText("#two-factor-status", "Off")
		a.shot("two-factor-off")
		a.press("#view", "Set up two-factor authentication")
		a.waitFor("the QR code", `document.querySelector("#totp-qr")?.complete && document.querySelector("#totp-qr").naturalWidth > 0`)
		secret = strings.ReplaceAll(webEval[string](a, `document.querySelector("#totp-secret").textContent`), " ", "")
		uri, _ := testenv.DecodeQR(t, webEval[string](a, `document.querySelector("#totp-qr").src`))
		if !strings.Contains(uri, "secret="+secret) {
			a.fail("the QR code holds %q, want the secret shown (%s)", uri, secret)
		}
		a.shot("two-factor-setup")
		a.fill("#enable-2fa", "Code from the app", "000000")
		a.press("#enable-2fa", "Turn on two-factor authentication")
		a.waitText("#enable-2fa-code-error", "invalid")
		a.waitFocus("#enable-2fa-code")
		a.fill("#enable-2fa", "Code from the app", clock.code(t, secret))
		a.press("#enable-2fa", "Turn on two-factor authentication")
		a.waitFor("the backup codes", `document.querySelectorAll("#backup-codes li").length > 0`)
		codes = webEval[[]string](a, `[...document.querySelectorAll("#backup-codes code")].map((c) => c.textContent)`)
		if len(codes) != 10 {
			a.fail("got %d backup codes, want 10", len(codes))
		}
		a.shot("backup-codes")

		// Download: the file holds every code.
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(a.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
			BrowserContextID: chromedp.FromContext(a.ctx).BrowserContextID,
		}); err != nil {
			t.Fatal(err)
		}
		a.press("#view", "Download codes")
		file := filepath.Join(downloads, "backup-codes.txt")
		var got []byte
		for deadline := time.Now().Add(webWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
				got = b
				break
			}
		}
		for _, c := range codes {
			if !strings.Contains(string(got), c+"\n") {
				a.fail("the downloaded file %q lacks the code %s:\n%s", file, c, got)
			}
		}
		// Copy: the clipboard may be refused to a headless page; either
		// way the page says so, without an error.
		a.press("#view", "Copy codes")
		a.waitFor("the copy's status", `document.querySelector(".copy-status").textContent !== ""`)
		a.press("#view", "I have saved my codes")
		a.waitText("#two-factor-status", "On")
		a.waitFocus("#view h1")
		a.press("#view", "Check the remaining backup codes")
		a.waitText("#view .message", "10 of 10 backup codes left.")
		a.shot("two-factor-on")
	})

	step("login with a backup code", func(t *testing.T) {
		a.logout()
		a.login(ann, password, codes[0], true, false)
		a.waitView("Your account")
	})

	step("login with a TOTP code, remembering the browser; then no code", func(t *testing.T) {
		a.logout()
		a.nav("Log in")
		a.fill("#login", "Email", ann)
		a.fill("#login", "Password", password)
		a.press("#login", "Log in")
		a.waitView("Two-factor authentication")
		a.waitFocus("#view h1")
		a.fill("#login-code", "Authentication code", "123456")
		a.press("#login-code", "Verify")
		a.waitText("#login-code-code-error", "invalid")
		a.waitFocus("#login-code-code")
		a.shot("login-2fa-error")
		a.fill("#login-code", "Authentication code", clock.code(t, secret))
		a.tick("#login-code", "Remember this browser")
		a.press("#login-code", "Verify")
		a.waitView("Your account")
		a.logout()
		// A trusted browser: the password alone. This session is not
		// fresh, so sensitive actions will ask for the password again.
		a.login(ann, password, "", false, false)
	})

	b := newWebPage(run, browserCtx, s.url, "phone")
	step("a second device logs in", func(t *testing.T) {
		b.open("/login")
		b.login(ann, password, codes[1], true, false)
	})

	step("revoke the other session after re-authenticating", func(t *testing.T) {
		a.nav("Sessions")
		a.waitView("Sessions and devices")
		a.waitFor("two sessions and a trusted device", `document.querySelectorAll("#session-list li").length === 2 && document.querySelectorAll("#device-list li").length === 1`)
		a.shot("sessions")
		// 403 reauthentication_required: the dialog asks for the password
		// and a code, and the focus is in it. Escape cancels: nothing is
		// done, and the focus is on the message that says so.
		other := `#session-list li:not(:has(.badge))`
		a.press(other, "Log out")
		a.waitFor("the re-authentication dialog", `document.querySelector("dialog[open]")`)
		a.waitFocus("dialog[open] input")
		a.do("press Escape", chromedp.KeyEvent(kb.Escape))
		a.waitText(other+" .action-result", "Cancelled")
		a.waitFocus(other + " .action-result .message")
		a.waitFor("two sessions still", `!document.querySelector("dialog") && document.querySelectorAll("#session-list li").length === 2`)
		a.press(other, "Log out")
		a.waitFor("the re-authentication dialog", `document.querySelector("dialog[open]")`)
		a.waitFocus("dialog[open] input")
		a.fill("dialog", "Password", "wrong password")
		a.fill("dialog", "Authentication code or backup code", codes[2])
		a.press("dialog", "Confirm")
		a.waitFor("the password's error in the dialog", `!document.querySelector("#reauth-password-error").hidden`)
		a.shot("reauth")
		a.fill("dialog", "Password", password)
		a.press("dialog", "Confirm")
		a.waitFor("the dialog to close", `!document.querySelector("dialog")`)
		a.waitText("#view .message", "was logged out")
		a.waitFor("one session left", `document.querySelectorAll("#session-list li").length === 1`)
		if n := a.requestCount("POST /api/auth/reauthenticate/"); n != 2 {
			a.fail("got %d re-authentications, want 2 (a wrong password, then the right one)", n)
		}
	})

	step("the revoked device is sent to the login page", func(t *testing.T) {
		b.nav("Account")
		b.waitView("Log in")
		b.notice("Your session has ended.")
		b.shot("session-ended")
	})

	step("forget the trusted device", func(t *testing.T) {
		a.press("#device-list", "Forget")
		a.waitText("#view .message", "is no longer trusted")
		a.waitFor("no trusted device", `document.querySelector("#no-devices")`)
	})

	step("silent refresh of an expired access token", func(t *testing.T) {
		before := a.requestCount("POST /api/auth/refresh/")
		a.setCookie("access_token", expiredAccessToken(t, a, filepath.Join(dir, "authsys.key")))
		a.nav("Account")
		a.waitView("Your account")
		a.waitText("#profile", ann)
		if got := a.requestCount("POST /api/auth/refresh/"); got != before+1 {
			a.fail("got %d refreshes, want 1", got-before)
		}
		// The browser dropped the access cookie (it lives as long as the
		// token): a reload still finds the user through the refresh.
		if _, err := chromedp.Call(a.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "access_token", URL: s.url + "/"}); err != nil {
			t.Fatal(err)
		}
		a.open("/account")
		a.waitView("Your account")
		a.waitText("#profile", ann)
		if got := a.requestCount("POST /api/auth/refresh/"); got != before+2 {
			a.fail("got %d refreshes, want 2", got-before)
		}
	})

	step("new backup codes", func(t *testing.T) {
		a.nav("Two-factor")
		a.waitView("Two-factor authentication")
		a.fill("#regenerate", "Password", password)
		a.press("#regenerate", "Get new backup codes")
		a.waitFor("new backup codes", `document.querySelectorAll("#backup-codes li").length === 10`)
		fresh := webEval[[]string](a, `[...document.querySelectorAll("#backup-codes code")].map((c) => c.textContent)`)
		if slices.Contains(fresh, codes[3]) {
			a.fail("the new codes include an old one")
		}
		codes = fresh
		a.press("#view", "I have saved my codes")
		a.waitText("#two-factor-status", "On")
	})

	step("change the email: a cancelled change's link fails, a confirmed one works", func(t *testing.T) {
		a.nav("Account")
		a.waitView("Your account")
		a.press("#view", "Change your email address")
		a.waitView("Change your email address")
		a.fill("#email", "New email address", annOther)
		a.fill("#email", "Password", password)
		a.press("#email", "Send the confirmation link")
		a.waitFor("the confirmation", `document.querySelector("#view .message")`)
		a.shot("email-sent")
		a.press("#view", "Cancel the pending change")
		a.waitFor("the cancellation", `document.querySelector(".action-result .message")`)
		a.openMail("email_change_confirm", annOther, "Confirm your new email address")
		a.press("#email-confirm", "Confirm the new address")
		a.waitFor("the dead link's error", `!document.querySelector("#email-confirm-error").hidden`)
		a.waitFocus("#email-confirm-error")
		a.shot("email-confirm-error")

		a.nav("Account")
		a.press("#view", "Change your email address")
		a.waitView("Change your email address")
		a.fill("#email", "New email address", annNew)
		a.fill("#email", "Password", password)
		a.press("#email", "Send the confirmation link")
		a.waitFor("the confirmation", `document.querySelector("#view .message")`)
		a.openMail("email_change_confirm", annNew, "Confirm your new email address")
		a.shot("email-confirm")
		a.press("#email-confirm", "Confirm the new address")
		a.waitText("#view .message", "Log in with the new address")
		// Every session ended, this one too: the navigation says so.
		a.waitFor("the logged-out navigation", `[...document.querySelectorAll("#nav a")].some((l) => l.textContent === "Log in")`)
		a.shot("email-confirmed")
		a.press("#view", "Log in with the new address")
		a.login(annNew, password, codes[0], true, false)
		a.waitText("#profile", annNew)
	})

	step("turn 2FA off", func(t *testing.T) {
		a.nav("Two-factor")
		a.waitView("Two-factor authentication")
		a.fill("#disable-2fa", "Password", password)
		a.fill("#disable-2fa", "Authentication code or backup code", codes[1])
		a.press("#disable-2fa", "Turn off two-factor authentication")
		a.waitText("#two-factor-status", "Off")
		a.waitFor("the confirmation", `document.querySelector("#view .message")`)
	})

	step("reset the password from the emailed link", func(t *testing.T) {
		a.logout()
		a.press("#view", "Forgot your password?")
		a.waitView("Reset your password")
		a.fill("#forgot", "Email", annNew)
		a.press("#forgot", "Send the reset link")
		a.waitFor("the answer", `document.querySelector("#view .message")`)
		a.openMail("password_reset", annNew, "Choose a new password")
		a.fill("#reset", "New password", "12345678")
		a.press("#reset", "Set the new password")
		a.waitFor("the field error", `!document.querySelector("#reset-new_password-error").hidden`)
		a.waitFocus("#reset-new_password")
		a.shot("reset-error")
		password = "reset to another passphrase"
		a.fill("#reset", "New password", password)
		a.press("#reset", "Set the new password")
		a.waitText("#view .message", "Log in")
		a.press("#view", "Log in")
		a.login(annNew, password, "", false, false)
	})

	step("log out the other sessions, then everywhere", func(t *testing.T) {
		b.login(annNew, password, "", false, false)
		a.nav("Sessions")
		a.waitView("Sessions and devices")
		a.press("#view", "Log out all other sessions")
		a.waitText("#view .message", "1 other session was logged out.")
		b.nav("Sessions")
		b.waitView("Log in")
		b.notice("Your session has ended.")

		b.login(annNew, password, "", false, false)
		a.nav("Account")
		a.nav("Sessions")
		a.waitFor("two sessions", `document.querySelectorAll("#session-list li").length === 2`)
		a.press("#view", "Log out everywhere")
		a.waitView("Log in")
		a.notice("You are logged out of every session.")
		b.nav("Sessions")
		b.waitView("Log in")
		b.notice("Your session has ended.")
	})

	step("the server's own signup fields are shown, labelled and sent", func(t *testing.T) {
		saved := signupFields
		signupFields = []signupField{{Name: "favourite_colour", Label: "Favourite colour", Hint: "Shown on your profile."}}
		extra := srvStart(t, append(srvLocalFlags(t.TempDir()), "-db", ":memory:", "-no-rate-limits")...)
		signupFields = saved
		c := newWebPage(run, browserCtx, extra.url, "extra-fields")
		c.open("/signup")
		c.fill("#signup", "Email", "cleo@example.com")
		c.fill("#signup", "Password", webPassword)
		c.fill("#signup", "Favourite colour", "teal")
		if got := webEval[string](c, `document.querySelector("#signup-favourite_colour").getAttribute("aria-describedby")`); got != "signup-favourite_colour-hint" {
			c.fail("the extra field is described by %q, want its hint", got)
		}
		c.shot("signup-extra-field")
		c.press("#signup", "Create account")
		// This API has no such member: its refusal names it, so it was sent.
		c.waitText("#signup-error", "favourite_colour")
	})

	step("rate limits: 429 with its Retry-After, in place", func(t *testing.T) {
		limited := srvStart(t, append(srvLocalFlags(t.TempDir()), "-db", ":memory:")...)
		c := newWebPage(run, browserCtx, limited.url, "limited")
		c.open("/forgot-password")
		for i := range 6 {
			c.fill("#forgot", "Email", "someone@example.com")
			c.press("#forgot", "Send the reset link")
			if i < 5 {
				c.waitFor("the answer", `document.querySelector("#view .message")`)
				c.nav("Log in")
				c.press("#view", "Forgot your password?")
				c.waitView("Reset your password")
			}
		}
		c.waitFor("the 429", `!document.querySelector("#forgot-error").hidden`)
		if got := webEval[string](c, `document.querySelector("#forgot-error").textContent`); !regexp.MustCompile(`Too many attempts\. Try again in \d+ seconds\.`).MatchString(got) {
			c.fail("got %q, want the wait from Retry-After", got)
		}
		c.waitFocus("#forgot-error")
		c.shot("throttled")
	})

	for _, p := range []*webPage{a, b} {
		p.checkConsole()
	}
	t.Logf("the web app flows took %s, %s of it for the audits and screenshots", time.Since(start).Round(time.Millisecond), run.shotTime.Round(time.Millisecond))
}

// setCookie sets a Secure, HttpOnly cookie of the app, as the server
// would.
func (p *webPage) setCookie(name, value string) {
	p.t().Helper()
	yes := true
	if _, err := chromedp.Call(p.ctx, network.SetCookie, network.SetCookieParams{
		Name: name, Value: value, URL: p.base + "/", Path: "/", HTTPOnly: &yes, Secure: &yes,
		SameSite: network.CookieSameSiteLax,
	}); err != nil {
		p.t().Fatal(err)
	}
}

// expiredAccessToken is the page's access token as it would be an hour
// later: the same session and user, expired. It is signed with the
// server's key file.
func expiredAccessToken(t *testing.T, p *webPage, keyFile string) string {
	t.Helper()
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	cookies, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var access string
	for _, c := range cookies.Cookies {
		if c.Name == "access_token" {
			access = c.Value
		}
	}
	manager := func(now time.Time) *tokens.Manager {
		m, err := tokens.NewManager(tokens.Options{Keys: []tokens.Key{{ID: "k1", Secret: key}}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	claims, err := manager(time.Now()).Parse(access, tokens.TypeAccess)
	if err != nil {
		t.Fatalf("the page's access token: %v", err)
	}
	old := manager(time.Now().Add(-time.Hour))
	c := old.NewClaims(tokens.TypeAccess, claims.Subject, claims.TokenVersion, claims.SessionID)
	c.AuthTime = claims.AuthTime
	signed, err := old.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manager(time.Now()).Parse(signed, tokens.TypeAccess); err == nil {
		t.Fatal("the minted token is not expired")
	}
	return signed
}

// TestWebAppServing checks what the server answers for the app: the page
// with its security headers at every route of the app's router (and 404
// elsewhere), the assets with their types, the mailbox only with the
// console mailer and only on the server's own address.
func TestWebAppServing(t *testing.T) {
	dir := t.TempDir()
	s := srvStart(t, append(srvLocalFlags(dir), "-db", ":memory:")...)
	c := newSrvClient(t)

	// The router's routes (main.js) are the server's.
	mainJS, err := os.ReadFile("web/assets/js/main.js")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(mainJS), "const routes = {")
	table, _, _ = strings.Cut(table, "};")
	var jsRoutes []string
	for _, m := range regexp.MustCompile(`(?m)^\s*"(/[^"]*)":`).FindAllStringSubmatch(table, -1) {
		jsRoutes = append(jsRoutes, m[1])
	}
	if len(jsRoutes) < 10 {
		t.Fatalf("found %d routes in main.js, want the route table", len(jsRoutes))
	}
	for _, r := range jsRoutes {
		if !appRoutes[r] && r != mailboxRoute {
			t.Errorf("main.js routes %s, which the server does not serve", r)
		}
	}
	for r := range appRoutes {
		if !slices.Contains(jsRoutes, r) {
			t.Errorf("the server serves %s, which main.js does not route", r)
		}
	}

	get := func(host, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+path, nil)
		if host != "" {
			req.Host = host
		}
		res, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", 200, "text/html"},
		{"/reset-password?uid=a&token=b", 200, "text/html"},
		{"/account/two-factor", 200, "text/html"},
		{mailboxRoute, 200, "text/html"},
		{"/no/such/page", 404, "text/html"},
		{"/assets/js/main.js", 200, "text/javascript"},
		{"/assets/js/views/login.js", 200, "text/javascript"},
		{"/assets/app.css", 200, "text/css"},
		{"/assets/favicon.svg", 200, "image/svg+xml"},
		{"/assets/nope.js", 404, ""},
		{"/api/nope", 404, ""},
		{mailboxData, 200, "application/json"},
	} {
		res := get("", tc.path)
		if res.StatusCode != tc.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: got %d %q, want %d %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if tc.ctype != "" && res.Header.Get("Content-Security-Policy") != appCSP {
			t.Errorf("GET %s: got CSP %q, want the app's", tc.path, res.Header.Get("Content-Security-Policy"))
		}
	}
	for _, directive := range []string{"script-src 'self';", "style-src 'self';", "img-src 'self' data:;", "connect-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(appCSP, directive) {
			t.Errorf("the CSP lacks %q", directive)
		}
	}
	if strings.Contains(appCSP, "unsafe-") {
		t.Errorf("the CSP allows something unsafe: %s", appCSP)
	}
	// A page of another site whose DNS name points here cannot read the
	// mails.
	if res := get("attacker.example:80", mailboxData); res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("the mailbox for Host attacker.example: got %d, want 421", res.StatusCode)
	}
	if res := get("localhost"+s.url[strings.LastIndex(s.url, ":"):], mailboxData); res.StatusCode != http.StatusOK {
		t.Errorf("the mailbox for Host localhost: got %d, want 200", res.StatusCode)
	}

	// The mailbox holds what the console printed, newest first.
	c.want(http.StatusCreated, http.MethodPost, s.url+"/api/auth/signup/", srvCreds)
	link := s.consoleLink()
	var box struct {
		Messages []devMail `json:"messages"`
	}
	for deadline := time.Now().Add(10 * time.Second); len(box.Messages) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := json.Unmarshal([]byte(c.want(http.StatusOK, http.MethodGet, s.url+mailboxData, nil)), &box); err != nil {
			t.Fatal(err)
		}
	}
	if len(box.Messages) != 1 || box.Messages[0].To != srvEmail || box.Messages[0].Kind != "verify_account" ||
		len(box.Messages[0].Links) != 1 || box.Messages[0].Links[0] != link {
		t.Errorf("got mailbox %+v, want the verification mail with the printed link %s", box.Messages, link)
	}
	if !strings.HasPrefix(link, s.url+"/verify-account?") {
		t.Errorf("got link %s, want the app's landing page", link)
	}

	// With SMTP there is no mailbox.
	smtp := srvStart(t, append(srvLocalFlags(t.TempDir()), "-db", ":memory:", "-smtp", "smtp://127.0.0.1:1?tls=none")...)
	for _, path := range []string{mailboxData, mailboxRoute} {
		res, err := http.Get(smtp.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with SMTP: got %d, want 404", path, res.StatusCode)
		}
	}
}

// TestDevMailboxKeepsTheLast checks that the mailbox keeps the newest
// mailboxSize messages.
func TestDevMailboxKeepsTheLast(t *testing.T) {
	box := &devMailbox{next: &mail.Console{W: io.Discard}}
	for i := range mailboxSize + 5 {
		if err := box.Send(t.Context(), mail.Message{Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(box.msgs) != mailboxSize || box.msgs[0].Subject != "5" || box.msgs[mailboxSize-1].Subject != fmt.Sprint(mailboxSize+4) {
		t.Errorf("got %d messages from %q to %q, want the last %d", len(box.msgs), box.msgs[0].Subject, box.msgs[len(box.msgs)-1].Subject, mailboxSize)
	}
}

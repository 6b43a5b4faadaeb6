// The app: routes, the navigation, the signed-in user, and the view
// changes (title, focus, notices). Each view is a module in views/ that
// exports {title, access, render(app)}: access "user" needs a signed-in
// user, "guest" sends a signed-in user to the account page.

import { call, setHooks, Cancelled } from "./api.js";
import { h, focus } from "./ui.js";
import { reauthenticate } from "./reauth.js";
import home from "./views/home.js";
import signup from "./views/signup.js";
import login from "./views/login.js";
import verify from "./views/verify.js";
import resend from "./views/resend.js";
import { forgotPassword, resetPassword } from "./views/reset.js";
import emailConfirm from "./views/email-confirm.js";
import account from "./views/account.js";
import password from "./views/password.js";
import email from "./views/email.js";
import twoFactor from "./views/two-factor.js";
import sessions from "./views/sessions.js";
import passkeysView from "./views/passkeys.js";
import { passkeysOn } from "./passkeys.js";
import mailbox from "./views/mailbox.js";
import notFound from "./views/not-found.js";

// routes maps each path to its view; the server serves the page for each
// (appRoutes in webapp.go).
const routes = {
  "/": home,
  "/signup": signup,
  "/login": login,
  "/verify-account": verify,
  "/resend-verification": resend,
  "/forgot-password": forgotPassword,
  "/reset-password": resetPassword,
  "/confirm-email-change": emailConfirm,
  "/account": account,
  "/account/password": password,
  "/account/email": email,
  "/account/two-factor": twoFactor,
  "/account/sessions": sessions,
  "/account/passkeys": passkeysView,
  "/dev/mailbox": mailbox,
};

const SITE = "authsys example";

// app is what the views get.
const app = {
  // user is the signed-in user (GET /me/'s user), or null.
  user: null,
  // mailbox is the URL of the development mailbox's data, or "".
  mailbox: document.body.dataset.mailbox || "",
  // query is the current URL's query.
  get query() {
    return new URLSearchParams(location.search);
  },
  navigate,
  setUser,
  loadUser,
  notify,
  // onLeave registers a function that runs when the view is left.
  onLeave(fn) {
    leaving.push(fn);
  },
};

let leaving = [];
let pendingNotice = "";
let renderSeq = 0;
let firstRender = true;

// navigate shows the view of path (with its query); notice, when given,
// is announced there.
function navigate(path, { replace = false, notice = "" } = {}) {
  pendingNotice = notice;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

// notify announces text in the live region at the top of the view.
function notify(text) {
  const n = document.getElementById("notice");
  n.textContent = "";
  // A change after a tick is announced even when the text repeats.
  setTimeout(() => {
    n.textContent = text;
  }, 50);
}

function setUser(user) {
  app.user = user || null;
  renderNav();
}

// loadUser asks the API who is signed in (refreshing the access token
// when it expired) and returns the user or null.
async function loadUser() {
  try {
    const data = await call("GET", "/me/", undefined, { quiet: true });
    setUser(data.user);
  } catch (err) {
    if (err.status === 401) setUser(null);
    else throw err;
  }
  return app.user;
}

async function logout() {
  try {
    await call("POST", "/logout/", undefined, { quiet: true, noRefresh: true });
  } catch (err) {
    notify(err.message);
    return;
  }
  setUser(null);
  navigate("/login", { notice: "You are logged out." });
}

function navLink(href, text) {
  const here = location.pathname === href;
  return h("li", null, h("a", { href, "aria-current": here ? "page" : null }, text));
}

function renderNav() {
  const items = [];
  if (app.user) {
    items.push(navLink("/account", "Account"), navLink("/account/two-factor", "Two-factor"));
    if (passkeysOn()) items.push(navLink("/account/passkeys", "Passkeys"));
    items.push(navLink("/account/sessions", "Sessions"));
  } else {
    items.push(navLink("/login", "Log in"), navLink("/signup", "Sign up"));
  }
  if (app.mailbox) items.push(navLink("/dev/mailbox", "Dev mailbox"));
  if (app.user) {
    items.push(h("li", null, h("button", { type: "button", class: "link-button", id: "logout", onclick: logout }, "Log out")));
  }
  document.getElementById("nav").replaceChildren(h("ul", null, items));
}

async function render() {
  const seq = ++renderSeq;
  for (const fn of leaving) fn();
  leaving = [];
  const view = document.getElementById("view");
  const notice = pendingNotice;
  pendingNotice = "";
  document.getElementById("notice").textContent = "";

  let v = routes[location.pathname] || notFound;
  if (v === mailbox && !app.mailbox) v = notFound;
  if (v.access === "user" && !app.user) {
    const next = location.pathname + location.search;
    navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true, notice: notice || "Log in to continue." });
    return;
  }
  if (v.access === "guest" && app.user) {
    navigate("/account", { replace: true, notice });
    return;
  }
  renderNav();
  document.title = `${v.title} · ${SITE}`;
  let node;
  try {
    node = await v.render(app);
  } catch (err) {
    if (seq !== renderSeq) return;
    node = h("div", null, h("h1", { tabindex: "-1", class: "view-heading" }, v.title), h("p", { class: "message error" }, err.message || String(err)));
    if (!(err instanceof Cancelled) && !(err.name === "Problem" || err.name === "NetworkError")) reportError(err);
  }
  if (seq !== renderSeq) return; // a later navigation won
  view.replaceChildren(node);
  if (notice) notify(notice);
  if (!firstRender) {
    window.scrollTo(0, 0);
    focus(view.querySelector("h1"));
  }
  firstRender = false;
}

// In-app links change the view without loading the page.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
  if (a.pathname === location.pathname && a.search === location.search && a.hash) return; // in-page
  if (!(a.pathname in routes)) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

window.addEventListener("popstate", () => render());

setHooks({
  reauthenticate: () => reauthenticate(app),
  sessionEnded: () => {
    if (!app.user) return;
    setUser(null);
    const next = location.pathname + location.search;
    navigate(`/login?next=${encodeURIComponent(next)}`, { notice: "Your session has ended. Log in again." });
  },
});

async function start() {
  try {
    await loadUser();
  } catch (err) {
    notify(err.message);
  }
  await render();
}

start();

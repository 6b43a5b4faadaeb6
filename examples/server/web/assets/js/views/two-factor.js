// Two-factor authentication: set up (QR code and key, then a code to
// enable it), backup codes (shown once, copy and download; their count;
// new ones), and turning it off.

import { call } from "../api.js";
import { h, heading, form, message, focus, actionButton, copyText, download, problemText } from "../ui.js";

export default {
  title: "Two-factor authentication",
  access: "user",
  async render(app) {
    const { user } = await call("GET", "/me/");
    app.setUser(user);
    const section = h("section", null, heading("Two-factor authentication"));
    const body = h("div");
    section.append(body);
    if (user.two_factor_enabled) enabled(app, body);
    else disabled(app, body);
    return section;
  },
};

// again returns a click handler that shows the page again, telling a
// failure in the live region.
function again(app, body) {
  return () => rerender(app, body).catch((err) => app.notify(problemText(err)));
}

// rerender shows the page again for the account's new state.
async function rerender(app, body, notice) {
  const { user } = await call("GET", "/me/");
  app.setUser(user);
  body.replaceChildren();
  if (user.two_factor_enabled) enabled(app, body);
  else disabled(app, body);
  if (notice) {
    const m = message(notice);
    body.prepend(m);
    focus(m);
  } else {
    // The control that was pressed is gone: start again at the heading.
    focus(body.parentElement && body.parentElement.querySelector("h1"));
  }
}

function status(on) {
  return h("p", { class: "status-line" }, "Status: ", h("strong", { id: "two-factor-status", class: on ? "on" : "off" }, on ? "On" : "Off"));
}

function disabled(app, body) {
  const start = actionButton("Set up two-factor authentication", async () => {
    const setup = await call("POST", "/2fa/setup/", {});
    showSetup(app, body, setup);
  }, { class: "primary", id: "setup-2fa" });
  body.append(
    status(false),
    h("p", null, "With two-factor authentication, logging in takes your password and a code from an authenticator app on your phone (such as Aegis, Google Authenticator, 1Password or Authy)."),
    h("p", { class: "actions" }, start.button), start.result);
}

// groups splits a base32 key in groups of four for reading.
function groups(secret) {
  return secret.match(/.{1,4}/g).join(" ");
}

function showSetup(app, body, setup) {
  const title = h("h2", { tabindex: "-1" }, "Set up your authenticator app");
  const copied = h("span", { class: "copy-status", role: "status" });
  const f = form({
    id: "enable-2fa",
    fields: [{
      name: "code", label: "Code from the app", autocomplete: "one-time-code", inputmode: "numeric", spellcheck: false, required: true,
      hint: "The 6-digit code the app shows for this account now.",
    }],
    submit: "Turn on two-factor authentication",
    problemFields: { invalid_code: "code" },
    onSubmit: async (v) => {
      const data = await call("POST", "/2fa/enable/", { code: v.code.trim() });
      const { user } = await call("GET", "/me/");
      app.setUser(user);
      showCodes(app, body, data.backup_codes, "Two-factor authentication is on.");
    },
  });
  body.replaceChildren(
    title,
    h("ol", { class: "steps" },
      h("li", null,
        h("p", null, "Scan this QR code with your authenticator app:"),
        h("img", { src: setup.qr_code, alt: "QR code of the key for your authenticator app", width: "256", height: "256", class: "qr", id: "totp-qr" }),
        h("p", null, "Or type this key in the app (time-based, 6 digits):"),
        h("p", { class: "secret-row" },
          h("code", { id: "totp-secret", class: "secret" }, groups(setup.secret)),
          h("button", { type: "button", onclick: () => copyText(setup.secret, copied) }, "Copy key"),
          copied)),
      h("li", null, h("p", null, "Enter the code the app shows, to check it works:"), f)),
    h("p", null, h("button", { type: "button", class: "link-button", onclick: again(app, body) }, "Cancel the setup")),
  );
  focus(title);
}

// showCodes shows new backup codes, this once.
function showCodes(app, body, codes, lead) {
  const title = h("h2", { tabindex: "-1" }, "Save your backup codes");
  const copied = h("span", { class: "copy-status", role: "status" });
  const text = `Backup codes for ${app.user ? app.user.email : "your account"} (each works once):\n${codes.join("\n")}\n`;
  body.replaceChildren(
    message(lead),
    title,
    h("p", null, "If you lose your phone, log in with one of these codes instead of a code from the app. Each works once. ",
      h("strong", null, "They are shown only now:"), " copy them, download them or write them down, and keep them somewhere safe."),
    h("ol", { class: "codes", id: "backup-codes" }, codes.map((c) => h("li", null, h("code", null, c)))),
    h("p", { class: "actions" },
      h("button", { type: "button", onclick: () => copyText(codes.join("\n"), copied) }, "Copy codes"),
      h("button", { type: "button", id: "download-codes", onclick: () => download("backup-codes.txt", text) }, "Download codes"),
      copied),
    h("p", null, h("button", { type: "button", class: "primary", id: "codes-saved", onclick: again(app, body) }, "I have saved my codes")),
  );
  focus(title);
}

function enabled(app, body) {
  const count = actionButton("Check the remaining backup codes", async (out) => {
    const data = await call("GET", "/2fa/backup-codes/");
    const m = message(`${data.remaining} of ${data.codes.length} backup codes left.`, data.remaining > 2 ? "info" : "error");
    out.replaceChildren(m);
    focus(m);
  }, { id: "count-codes" });
  const regenerate = form({
    id: "regenerate",
    fields: [{ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }],
    submit: "Get new backup codes",
    problemFields: { invalid_password: "password" },
    onSubmit: async (v) => {
      const data = await call("POST", "/2fa/backup-codes/", { password: v.password });
      showCodes(app, body, data.backup_codes, "You have new backup codes; the old ones no longer work.");
    },
  });
  const off = form({
    id: "disable-2fa",
    fields: [
      { name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true },
      { name: "code", label: "Authentication code or backup code", autocomplete: "one-time-code", spellcheck: false, required: true },
    ],
    submit: "Turn off two-factor authentication",
    submitClass: "danger",
    problemFields: { invalid_code: "code", invalid_password: "password" },
    onSubmit: async (v) => {
      const data = await call("POST", "/2fa/disable/", { password: v.password, code: v.code.trim() });
      await rerender(app, body, data.message || "Two-factor authentication is off.");
    },
  });
  body.append(
    status(true),
    h("p", null, "Logging in takes your password and a code from your authenticator app, or a backup code."),
    h("h2", null, "Backup codes"),
    h("p", { class: "actions" }, count.button), count.result,
    h("h3", null, "New backup codes"),
    h("p", null, "Lost them, or used most? Get a new set; the old ones stop working."),
    regenerate,
    h("h2", null, "Turn off"),
    h("p", null, "Your account is then protected by your password alone. Other sessions are logged out."),
    off);
}

// The re-authentication prompt: a sensitive action answered 403
// reauthentication_required, so the user shows their password again (and
// a code when two-factor authentication is on) in a modal dialog; POST
// /reauthenticate/ renews the session's cookies and the action is retried.

import { call } from "./api.js";
import { h, form, focus } from "./ui.js";

let open = null; // the pending prompt's promise, shared by concurrent asks

// reauthenticate resolves to true once the user has confirmed, false when
// they cancel.
export function reauthenticate(app) {
  if (!open) {
    open = prompt(app).finally(() => {
      open = null;
    });
  }
  return open;
}

function prompt(app) {
  return new Promise((resolve) => {
    const returnTo = document.activeElement;
    const twoFactor = !!(app.user && app.user.two_factor_enabled);
    const fields = [{ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }];
    if (twoFactor) {
      fields.push({
        name: "code",
        label: "Authentication code or backup code",
        autocomplete: "one-time-code",
        spellcheck: false,
        required: true,
        hint: "The 6-digit code from your authenticator app, or one of your backup codes.",
      });
    }
    let done = false;
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": "reauth-title", "aria-describedby": "reauth-why" });
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (returnTo && returnTo.isConnected) returnTo.focus();
      resolve(ok);
    };
    const cancel = h("button", { type: "button", onclick: () => finish(false) }, "Cancel");
    const f = form({
      id: "reauth",
      fields,
      submit: "Confirm",
      extra: cancel,
      problemFields: { invalid_code: "code", invalid_password: "password" },
      onSubmit: async (v) => {
        const body = { password: v.password };
        if (twoFactor) body.code = v.code.trim();
        await call("POST", "/reauthenticate/", body, { noReauth: true });
        finish(true);
      },
    });
    dialog.append(
      h("h2", { id: "reauth-title" }, "Confirm it’s you"),
      h("p", { id: "reauth-why" }, twoFactor
        ? "This action needs your password and a code again, to make sure it is you."
        : "This action needs your password again, to make sure it is you."),
      f,
    );
    // Escape closes a modal dialog: that is a cancel.
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    focus(f.field("password"));
  });
}

// The re-authentication prompt: a sensitive action answered 403
// reauthentication_required, so the user confirms it's them in a modal
// dialog — with a passkey of the account, or the password (and a code
// when two-factor authentication is on) — which renews the session's
// cookies, and the action is retried. An account whose second factor is a
// passkey (it has one, TOTP is off) confirms with the passkey only: its
// password alone is answered 403 passkey_required.

import { call } from "./api.js";
import { h, form, focus, actionButton, passkeysElsewhere } from "./ui.js";
import * as passkeys from "./passkeys.js";

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

// hasPasskeys says whether the account has a passkey (false when the
// server has none, or cannot say).
async function hasPasskeys() {
  if (!passkeys.passkeysOn()) return false;
  try {
    return (await passkeys.list()).length > 0;
  } catch {
    return false;
  }
}

async function prompt(app) {
  const returnTo = document.activeElement;
  const twoFactor = !!(app.user && app.user.two_factor_enabled);
  const withPasskey = await hasPasskeys();
  return new Promise((resolve) => {
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
    const cancelButton = () => h("button", { type: "button", onclick: () => finish(false) }, "Cancel");

    // passkeyPart is the passkey's button (and where its failure shows),
    // or, where this page cannot use passkeys, why not; null without one.
    const passkeyPart = (only) => {
      if (passkeys.support() !== "yes") {
        if (!only) return null;
        return passkeysElsewhere("Your passkey works at") ||
          h("p", { class: "message error" }, "This browser cannot use passkeys.");
      }
      const b = actionButton("Use a passkey", async () => {
        await passkeys.reauthenticate();
        finish(true);
      }, { class: "primary", id: "reauth-passkey" });
      return h("div", { class: "reauth-passkey" }, h("p", { class: "actions" }, b.button, only ? cancelButton() : null), b.result);
    };

    // show fills the dialog: the passkey alone (passkeyOnly), or the
    // password form after the passkey's button when the account has one.
    const show = (passkeyOnly, lead) => {
      const title = h("h2", { id: "reauth-title" }, "Confirm it’s you");
      if (passkeyOnly) {
        const part = passkeyPart(true);
        dialog.replaceChildren(...[title,
          h("p", { id: "reauth-why" }, lead || "This action needs you to confirm with your passkey, to make sure it is you."),
          part,
          passkeys.support() === "yes" ? null : h("p", { class: "actions" }, cancelButton())].filter(Boolean));
        focus(dialog.querySelector("#reauth-passkey") || dialog.querySelector("button"));
        return;
      }
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
      const f = form({
        id: "reauth",
        fields,
        submit: "Confirm",
        extra: cancelButton(),
        problemFields: { invalid_code: "code", invalid_password: "password" },
        onSubmit: async (v) => {
          const body = { password: v.password };
          if (twoFactor) body.code = v.code.trim();
          try {
            await call("POST", "/reauthenticate/", body, { noReauth: true });
          } catch (err) {
            if (err.code === "passkey_required") {
              show(true, "Your account confirms with its passkey, not the password.");
              return;
            }
            throw err;
          }
          finish(true);
        },
      });
      const part = withPasskey ? passkeyPart(false) : null;
      const why = twoFactor
        ? "This action needs your password and a code again, to make sure it is you."
        : "This action needs your password again, to make sure it is you.";
      dialog.replaceChildren(...[title,
        h("p", { id: "reauth-why" }, part ? "This action needs you to confirm it’s you: use your passkey, or your password" + (twoFactor ? " and a code." : ".") : why),
        part,
        part ? h("p", { class: "or" }, "or") : null,
        f].filter(Boolean));
      focus(part ? dialog.querySelector("#reauth-passkey") : f.field("password"));
    };

    // Escape closes a modal dialog: that is a cancel.
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    show(withPasskey && !twoFactor);
    dialog.showModal();
  });
}

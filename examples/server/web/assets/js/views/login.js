// Log in: the password, then, for an account with two-factor
// authentication, a code from the authenticator app, a backup code or a
// passkey (the login answer's methods say which), with "remember this
// browser" (a trusted device skips that step next time). Or a passkey
// alone, with no email typed: the browser offers the passkeys it holds
// for the site.

import { call } from "../api.js";
import { h, heading, link, form, focus, actionButton, passkeysElsewhere } from "../ui.js";
import * as passkeys from "../passkeys.js";

// nextPath is where to go after the login: the ?next= path when it is one
// of this app's, else the account page.
function nextPath(app) {
  const next = app.query.get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/account";
}

export default {
  title: "Log in",
  access: "guest",
  render(app) {
    const section = h("section", null);
    const done = (user) => {
      app.setUser(user);
      app.navigate(nextPath(app), { replace: true, notice: `You are logged in as ${user.email}.` });
    };
    const passwordStep = (notice) => {
      const title = heading("Log in");
      const f = form({
        id: "login",
        fields: [
          { name: "email", label: "Email", type: "email", autocomplete: "username", required: true, spellcheck: false },
          { name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true },
        ],
        submit: "Log in",
        errorExtra: (err) => err.code === "account_inactive"
          ? h("p", null, "Not verified yet? ", link("/resend-verification", "Send the verification link again"), ".")
          : null,
        onSubmit: async (v) => {
          const data = await call("POST", "/login/", { email: v.email.trim(), password: v.password });
          if (data.requires_2fa) secondStep(data.session_token, data.methods);
          else done(data.user);
        },
      });
      section.replaceChildren(...[title, notice, f, passkeyLogin(),
        h("ul", { class: "plain" },
          h("li", null, link("/forgot-password", "Forgot your password?")),
          h("li", null, link("/signup", "Create an account")),
          h("li", null, link("/resend-verification", "Didn’t get the verification email?")))].filter(Boolean));
      return title;
    };
    // passkeyLogin is "Sign in with a passkey" where this page can use
    // passkeys, a link to where they work, or nothing.
    const passkeyLogin = () => {
      if (passkeys.support() !== "yes") {
        return passkeysElsewhere("To sign in with a passkey, open this page at");
      }
      const b = actionButton("Sign in with a passkey", async () => {
        try {
          done((await passkeys.login()).user);
        } catch (err) {
          if (err.code === "invalid_credentials") {
            err.detail = "The passkey was not accepted: it may have been removed from your account. Log in with your password, or try another passkey.";
          }
          throw err;
        }
      }, { id: "login-passkey" });
      return h("div", { class: "passkey-login" },
        h("p", { class: "or" }, "or"),
        h("p", { class: "actions" }, b.button),
        b.result);
    };
    // secondStep asks for what completes the login: a code or a backup
    // code (methods totp, backup_code), a passkey (passkey), or either.
    const secondStep = (sessionToken, methods) => {
      methods = Array.isArray(methods) ? methods : ["totp", "backup_code"];
      const totp = methods.includes("totp");
      const backupCodes = methods.includes("backup_code");
      const passkey = methods.includes("passkey") && passkeys.support() === "yes";
      let backup = false;
      const title = heading("Two-factor authentication");
      const intro = h("p", { id: "login-code-intro" });
      const startOver = h("p", null, h("button", { type: "button", class: "link-button", onclick: () => focus(passwordStep()) }, "Start over"));
      if (!totp && !passkey) {
        // The account's only second factor is a passkey this page cannot use.
        section.replaceChildren(title,
          passkeysElsewhere("Your account confirms a login with a passkey, which works at") ||
            h("p", { class: "message error" }, "Your account confirms a login with a passkey, and this browser cannot use passkeys. Log in from a browser that can."),
          startOver);
        focus(title);
        return;
      }
      // finish completes the login with fn's answer; an expired pending
      // login starts again at the password.
      const finish = async (fn) => {
        let data;
        try {
          data = await fn();
        } catch (err) {
          if (err.code === "session_expired") {
            focus(passwordStep(h("p", { class: "message error", tabindex: "-1" }, `${err.detail} Enter your password again.`)));
            return;
          }
          throw err;
        }
        done(data.user);
      };
      const usePasskey = (v) => finish(() => passkeys.secondFactor(sessionToken, v.remember_device));
      const fields = [];
      if (totp) fields.push({ name: "code", label: "Authentication code", autocomplete: "one-time-code", inputmode: "numeric", spellcheck: false, required: true });
      fields.push({ name: "remember_device", label: "Remember this browser: skip this step when you log in here again", type: "checkbox" });
      // With a code too, the passkey is a second button of the form,
      // which shares its "remember this browser".
      const passkeyButton = totp && passkey ? h("button", { type: "button", id: "login-code-passkey" }, "Use a passkey") : null;
      const f = form({
        id: "login-code",
        fields,
        submit: totp ? "Verify" : "Use a passkey",
        extra: passkeyButton,
        problemFields: { invalid_code: "code" },
        onSubmit: async (v) => {
          if (!totp) return usePasskey(v);
          return finish(() => call("POST", "/2fa/verify-login/", {
            session_token: sessionToken, code: v.code.trim(), remember_device: v.remember_device,
          }));
        },
      });
      if (passkeyButton) {
        passkeyButton.addEventListener("click", async () => {
          if (f.getAttribute("aria-busy") === "true") return;
          f.clearErrors();
          f.setAttribute("aria-busy", "true");
          passkeyButton.setAttribute("aria-disabled", "true");
          try {
            await usePasskey(f.values());
          } catch (err) {
            f.showError(err);
          } finally {
            f.removeAttribute("aria-busy");
            passkeyButton.removeAttribute("aria-disabled");
          }
        });
      }
      const toggle = h("button", { type: "button", class: "link-button" });
      const show = () => {
        if (!totp) {
          intro.textContent = "Your account has a passkey: use it to finish logging in. Your device asks for its screen lock (a fingerprint, your face or a PIN) or your security key.";
          return;
        }
        const input = f.field("code");
        const label = f.querySelector(`label[for="${input.id}"]`);
        label.textContent = backup ? "Backup code" : "Authentication code";
        intro.textContent = backup
          ? "Enter one of the backup codes you saved when you turned on two-factor authentication. Each works once."
          : "Enter the 6-digit code your authenticator app shows for this account.";
        if (passkey) intro.textContent += " Or use a passkey of your account.";
        input.inputMode = backup ? "text" : "numeric";
        input.autocomplete = backup ? "off" : "one-time-code";
        toggle.textContent = backup ? "Use a code from the app instead" : "Use a backup code instead";
      };
      toggle.addEventListener("click", () => {
        backup = !backup;
        show();
        const input = f.field("code");
        input.value = "";
        input.focus();
      });
      show();
      section.replaceChildren(...[title, intro, f,
        totp && backupCodes ? h("p", null, toggle) : null,
        startOver].filter(Boolean));
      focus(title);
    };
    passwordStep();
    return section;
  },
};

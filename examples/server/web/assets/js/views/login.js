// Log in: the password, then, for an account with two-factor
// authentication, a code from the authenticator app or a backup code,
// with "remember this browser" (a trusted device skips the code next
// time).

import { call } from "../api.js";
import { h, heading, link, form, focus } from "../ui.js";

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
          if (data.requires_2fa) codeStep(data.session_token);
          else done(data.user);
        },
      });
      section.replaceChildren(title, notice || [], f,
        h("ul", { class: "plain" },
          h("li", null, link("/forgot-password", "Forgot your password?")),
          h("li", null, link("/signup", "Create an account")),
          h("li", null, link("/resend-verification", "Didn’t get the verification email?"))));
      return title;
    };
    const codeStep = (sessionToken) => {
      let backup = false;
      const title = heading("Two-factor authentication");
      const intro = h("p", { id: "login-code-intro" });
      const f = form({
        id: "login-code",
        fields: [
          { name: "code", label: "Authentication code", autocomplete: "one-time-code", inputmode: "numeric", spellcheck: false, required: true },
          { name: "remember_device", label: "Remember this browser: skip this step when you log in here again", type: "checkbox" },
        ],
        submit: "Verify",
        problemFields: { invalid_code: "code" },
        onSubmit: async (v) => {
          try {
            const data = await call("POST", "/2fa/verify-login/", {
              session_token: sessionToken, code: v.code.trim(), remember_device: v.remember_device,
            });
            done(data.user);
          } catch (err) {
            if (err.code === "session_expired") {
              focus(passwordStep(h("p", { class: "message error", tabindex: "-1" }, `${err.detail} Enter your password again.`)));
              return;
            }
            throw err;
          }
        },
      });
      const input = f.field("code");
      const label = f.querySelector(`label[for="${input.id}"]`);
      const toggle = h("button", { type: "button", class: "link-button" });
      const show = () => {
        label.textContent = backup ? "Backup code" : "Authentication code";
        intro.textContent = backup
          ? "Enter one of the backup codes you saved when you turned on two-factor authentication. Each works once."
          : "Enter the 6-digit code your authenticator app shows for this account.";
        input.inputMode = backup ? "text" : "numeric";
        input.autocomplete = backup ? "off" : "one-time-code";
        toggle.textContent = backup ? "Use a code from the app instead" : "Use a backup code instead";
      };
      toggle.addEventListener("click", () => {
        backup = !backup;
        show();
        input.value = "";
        input.focus();
      });
      show();
      section.replaceChildren(title, intro, f,
        h("p", null, toggle),
        h("p", null, h("button", { type: "button", class: "link-button", onclick: () => focus(passwordStep()) }, "Start over")));
      focus(title);
    };
    passwordStep();
    return section;
  },
};

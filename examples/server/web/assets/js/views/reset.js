// Password reset: the request form (/forgot-password) and the landing page
// of the emailed link (/reset-password?uid=…&token=…), which sets the new
// password.

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

export const forgotPassword = {
  title: "Reset your password",
  render(app) {
    const section = h("section", null,
      heading("Reset your password"),
      h("p", null, "Enter your account’s email address and we will send you a link to choose a new password."));
    const f = form({
      id: "forgot",
      fields: [{ name: "email", label: "Email", type: "email", autocomplete: "email", required: true, spellcheck: false, value: app.user ? app.user.email : "" }],
      submit: "Send the reset link",
      onSubmit: async (v) => {
        const data = await call("POST", "/password-reset/", { email: v.email.trim() });
        const done = message(data.message || "Check your email.", "success",
          h("p", null, "The link works for a limited time, once."),
          app.mailbox ? h("p", null, "Look in the ", link("/dev/mailbox", "development mailbox"), ".") : null);
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f);
    return section;
  },
};

export const resetPassword = {
  title: "Choose a new password",
  render(app) {
    const uid = app.query.get("uid") || "";
    const token = app.query.get("token") || "";
    const section = h("section", null, heading("Choose a new password"));
    if (!uid || !token) {
      section.append(message("This link is incomplete. Open the link from the email again, or ask for a new one.", "error",
        h("p", null, link("/forgot-password", "Send a new link"))));
      return section;
    }
    const f = form({
      id: "reset",
      fields: [{
        name: "new_password", label: "New password", type: "password", autocomplete: "new-password", required: true,
        hint: "At least 8 characters; not only digits, not like your email address, not a common password.",
      }],
      submit: "Set the new password",
      errorExtra: () => h("p", null, link("/forgot-password", "Send a new link")),
      onSubmit: async (v) => {
        const data = await call("POST", "/password-reset-confirm/", { uid, token, new_password: v.new_password });
        // Every session of the account has ended, this browser's too.
        app.setUser(null);
        const done = message(data.message || "Your password is set.", "success",
          h("p", null, "Every session of the account was logged out."),
          h("p", null, link("/login", "Log in", { class: "button primary" })));
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f);
    return section;
  },
};

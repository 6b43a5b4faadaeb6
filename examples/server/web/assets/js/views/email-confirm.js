// The landing page of the email-change link (/confirm-email-change?token=…).
// It posts only when the person presses the button.

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

export default {
  title: "Confirm your new email address",
  render(app) {
    const token = app.query.get("token") || "";
    const section = h("section", null, heading("Confirm your new email address"));
    if (!token) {
      section.append(message("This link is incomplete. Open the link from the email again.", "error"));
      return section;
    }
    section.append(h("p", null, "Confirm to make this address the one of your account. Every session of the account is then logged out, and you log in with the new address."));
    const f = form({
      id: "email-confirm",
      submit: "Confirm the new address",
      onSubmit: async () => {
        const data = await call("POST", "/change-email-confirm/", { token });
        app.setUser(null);
        const done = message(data.message || "Your email address is changed.", "success",
          h("p", null, link("/login", "Log in with the new address", { class: "button primary" })));
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f);
    return section;
  },
};

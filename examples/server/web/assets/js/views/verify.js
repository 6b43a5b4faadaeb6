// The landing page of the verification link (/verify-account?uid=…&token=…).
// It posts only when the person presses the button, so that a mail
// scanner that opens the link uses nothing up.

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

export default {
  title: "Verify your email address",
  render(app) {
    const uid = app.query.get("uid") || "";
    const token = app.query.get("token") || "";
    const section = h("section", null, heading("Verify your email address"));
    if (!uid || !token) {
      section.append(message("This link is incomplete. Open the link from the email again, or ask for a new one.", "error",
        h("p", null, link("/resend-verification", "Send a new link"))));
      return section;
    }
    section.append(h("p", null, "Confirm that this email address is yours to activate your account."));
    const f = form({
      id: "verify",
      submit: "Verify my email address",
      errorExtra: () => h("p", null, link("/resend-verification", "Send a new link")),
      onSubmit: async () => {
        const data = await call("POST", "/verify-account/", { uid, token });
        const done = message(data.message || "Your account is verified.", "success",
          h("p", null, link("/login", "Log in", { class: "button primary" })));
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f);
    return section;
  },
};

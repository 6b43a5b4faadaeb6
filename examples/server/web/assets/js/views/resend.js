// Ask for a new verification link.

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

export default {
  title: "Resend the verification email",
  render(app) {
    const section = h("section", null,
      heading("Resend the verification email"),
      h("p", null, "Enter the address you signed up with. If it has an account that is not verified yet, we send it a new link."));
    const f = form({
      id: "resend",
      fields: [{ name: "email", label: "Email", type: "email", autocomplete: "email", required: true, spellcheck: false, value: app.query.get("email") || "" }],
      submit: "Send the link",
      onSubmit: async (v) => {
        const data = await call("POST", "/verify-account/resend/", { email: v.email.trim() });
        const done = message(data.message || "Check your email.", "success", h("p", null, link("/login", "Log in")));
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f);
    return section;
  },
};

// Change the password: every other session is logged out, this one goes
// on with fresh cookies.

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

export default {
  title: "Change your password",
  access: "user",
  render() {
    const section = h("section", null, heading("Change your password"),
      h("p", null, "Every other session of your account is logged out; this browser stays logged in."));
    const result = h("div");
    const f = form({
      id: "password",
      fields: [
        { name: "current_password", label: "Current password", type: "password", autocomplete: "current-password", required: true },
        {
          name: "new_password", label: "New password", type: "password", autocomplete: "new-password", required: true,
          hint: "At least 8 characters; not only digits, not like your email address, not a common password.",
        },
      ],
      submit: "Change password",
      onSubmit: async (v) => {
        const data = await call("POST", "/change-password/", { current_password: v.current_password, new_password: v.new_password });
        f.reset();
        const m = message(data.message || "Your password has been changed.");
        result.replaceChildren(m);
        focus(m);
      },
    });
    section.append(result, f, h("p", null, "Forgot it? ", link("/forgot-password", "Reset your password by email"), "."));
    return section;
  },
};

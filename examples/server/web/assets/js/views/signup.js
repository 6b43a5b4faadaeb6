// Sign up: an email address and a password; the API mails a verification
// link, whatever the address (it never says whether it has an account).

import { call } from "../api.js";
import { h, heading, link, form, message, focus } from "../ui.js";

// extraFields are the application's own signup fields, rendered after the
// email and password and sent when filled in: those the server declares
// (signupFields in webapp.go, in the page's data-signup-fields: the
// example's display_name) and any added here, e.g.
//   {name: "company", label: "Company", autocomplete: "organization"}
// A field error the API reports for one of them appears under it.
export const extraFields = [...declaredFields()];

function declaredFields() {
  try {
    const list = JSON.parse(document.body.dataset.signupFields || "[]");
    return Array.isArray(list) ? list.filter((f) => f && typeof f.name === "string" && typeof f.label === "string") : [];
  } catch {
    return [];
  }
}

export default {
  title: "Create an account",
  access: "guest",
  render(app) {
    const section = h("section", null, heading("Create an account"));
    const f = form({
      id: "signup",
      fields: [
        { name: "email", label: "Email", type: "email", autocomplete: "email", required: true, spellcheck: false },
        {
          name: "password", label: "Password", type: "password", autocomplete: "new-password", required: true,
          hint: "At least 8 characters; not only digits, not like your email address, not a common password.",
        },
        ...extraFields,
      ],
      submit: "Create account",
      onSubmit: async (v) => {
        const body = { email: v.email.trim(), password: v.password };
        for (const x of extraFields) {
          if (v[x.name] !== "" && v[x.name] !== false) body[x.name] = v[x.name];
        }
        const data = await call("POST", "/signup/", body);
        const done = message(data.message || "Check your email.", "success",
          h("p", null, "We sent a link to ", h("strong", null, body.email), ". Open it to activate your account."),
          h("p", null, "No email? ", link("/resend-verification", "Send the link again"),
            app.mailbox ? [" or look in the ", link("/dev/mailbox", "development mailbox"), "."] : "."));
        f.replaceWith(done);
        focus(done);
      },
    });
    section.append(f, h("p", null, "Already have an account? ", link("/login", "Log in"), "."));
    return section;
  },
};

// Change the email address: the API mails a confirmation link to the new
// address (the change happens when it is opened) and tells the current
// one. A pending change can be cancelled.

import { call } from "../api.js";
import { h, heading, link, form, message, focus, actionButton } from "../ui.js";

export default {
  title: "Change your email address",
  access: "user",
  render(app) {
    const section = h("section", null, heading("Change your email address"),
      h("p", null, "Your address is ", h("strong", { id: "current-email" }, app.user.email), ". We send a confirmation link to the new address; the change happens when you open it, and every session is then logged out."));
    const result = h("div");
    const f = form({
      id: "email",
      fields: [
        { name: "new_email", label: "New email address", type: "email", autocomplete: "email", required: true, spellcheck: false },
        { name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true },
      ],
      submit: "Send the confirmation link",
      onSubmit: async (v) => {
        const data = await call("POST", "/change-email/", { new_email: v.new_email.trim(), password: v.password });
        const m = message(data.message || "Check your new address.", "success",
          app.mailbox ? h("p", null, "Look in the ", link("/dev/mailbox", "development mailbox"), ".") : null);
        f.reset();
        result.replaceChildren(m);
        focus(m);
      },
    });
    const cancel = actionButton("Cancel the pending change", async (out) => {
      const data = await call("DELETE", "/change-email/");
      const m = message(data.message || "No change is pending.");
      out.replaceChildren(m);
      focus(m);
    });
    section.append(result, f,
      h("h2", null, "Changed your mind?"),
      h("p", null, "Cancel a change you asked for: its link stops working."),
      h("p", { class: "actions" }, cancel.button), cancel.result);
    return section;
  },
};

// The start page: what the app does, for someone who is not signed in.

import { h, heading, link } from "../ui.js";

export default {
  title: "Welcome",
  access: "guest",
  render(app) {
    return h("section", null,
      heading("Welcome"),
      h("p", null, "This is the example app of authsys: a complete account system — sign up, email verification, login with two-factor authentication or a passkey, password and email changes, sessions — driven through its HTTP API."),
      h("p", { class: "actions" },
        link("/login", "Log in", { class: "button primary" }),
        link("/signup", "Create an account", { class: "button" })),
      h("ul", { class: "plain" },
        h("li", null, link("/forgot-password", "Forgot your password?")),
        h("li", null, link("/resend-verification", "Didn’t get the verification email?"))),
      app.mailbox
        ? h("p", { class: "message info" }, "Emails are not sent: this server prints them to its console and shows them in the ", link("/dev/mailbox", "development mailbox"), ".")
        : null,
    );
  },
};

// The profile: GET /me/'s user, and the ways to manage the account.

import { call } from "../api.js";
import { h, heading, link, time } from "../ui.js";
import * as passkeys from "../passkeys.js";

const yes = (b) => (b ? "Yes" : "No");

// label words a profile field's name: display_name is "Display name".
function label(name) {
  const s = name.replace(/[_-]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function show(v) {
  if (v == null) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

export default {
  title: "Your account",
  access: "user",
  async render(app) {
    // Fresh from the API: another tab may have changed the account.
    const [{ user }, keys] = await Promise.all([
      call("GET", "/me/"),
      passkeys.passkeysOn() ? passkeys.list() : null,
    ]);
    app.setUser(user);
    const rows = [
      ["Email", user.email],
      ["Email verified", yes(user.email_verified)],
      ["Two-factor authentication", user.two_factor_enabled ? "On" : "Off"],
      keys ? ["Passkeys", String(keys.length)] : null,
      ["Member since", time(user.date_joined)],
      ["Last login", time(user.last_login)],
    ].filter(Boolean);
    if (user.is_staff) rows.push(["Staff", "Yes: you may use the admin API"]);
    for (const [k, v] of Object.entries(user.profile || {})) rows.push([label(k), show(v)]);
    // The display name, when the user gave one at signup (a profile
    // field of the example server).
    const name = typeof user.profile?.display_name === "string" ? user.profile.display_name : "";
    return h("section", null,
      heading("Your account"),
      name ? h("p", { id: "greeting" }, "Hello, ", h("strong", null, name), ".") : null,
      h("dl", { class: "facts", id: "profile" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))),
      h("h2", null, "Manage"),
      h("ul", { class: "menu" },
        h("li", null, link("/account/password", "Change your password")),
        h("li", null, link("/account/email", "Change your email address")),
        h("li", null, link("/account/two-factor", "Two-factor authentication"), user.two_factor_enabled ? " (on)" : " (off)"),
        keys ? h("li", null, link("/account/passkeys", "Passkeys"), ` (${keys.length})`) : null,
        h("li", null, link("/account/sessions", "Sessions and devices"))),
    );
  },
};

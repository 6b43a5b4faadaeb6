// Sessions and trusted devices: each login is a session, listed with its
// device and network; any can be logged out. Trusted devices skip the
// second factor at login until forgotten.

import { call } from "../api.js";
import { h, heading, message, focus, actionButton, time } from "../ui.js";

export default {
  title: "Sessions and devices",
  access: "user",
  async render(app) {
    const section = h("section", null, heading("Sessions and devices"));
    const body = h("div");
    section.append(body);
    await fill(app, body);
    return section;
  },
};

// fill lists the sessions in body; notice, when given, is shown first.
async function fill(app, body, notice) {
  const data = await call("GET", "/sessions/");
  // This browser's first, then the others newest first.
  const sessions = (data.sessions || []).slice().sort((a, b) => Number(b.current) - Number(a.current));
  const devices = data.trusted_devices || [];
  const others = sessions.filter((s) => !s.current).length;

  const list = h("ul", { class: "cards", id: "session-list" }, sessions.map((s) => sessionItem(app, body, s)));
  const revokeOthers = actionButton("Log out all other sessions", async () => {
    const r = await call("POST", "/sessions/revoke-others/", {});
    const n = r.revoked || 0;
    await fill(app, body, n === 1 ? "1 other session was logged out." : `${n} other sessions were logged out.`);
  }, { id: "revoke-others" });
  const logoutAll = actionButton("Log out everywhere", async () => {
    await call("POST", "/logout-all/");
    app.setUser(null);
    app.navigate("/login", { notice: "You are logged out of every session." });
  }, { id: "logout-all", class: "danger" });

  body.replaceChildren(
    notice ? message(notice) : [],
    h("h2", null, "Signed-in sessions"),
    h("p", null, `You are logged in on ${sessions.length} ${sessions.length === 1 ? "browser or device" : "browsers or devices"}. Log out any you do not recognise.`),
    list,
    others ? h("p", { class: "actions" }, revokeOthers.button) : null, revokeOthers.result,
    h("h2", null, "Trusted devices"),
    devices.length
      ? h("ul", { class: "cards", id: "device-list" }, devices.map((d) => deviceItem(app, body, d)))
      : h("p", { id: "no-devices" }, "None. When you log in with two-factor authentication and tick “Remember this browser”, the browser is listed here and skips the code next time."),
    h("h2", null, "Everywhere"),
    h("p", null, "End every session, this one included, and forget every trusted device."),
    h("p", { class: "actions" }, logoutAll.button), logoutAll.result,
  );
  const m = body.querySelector(".message");
  if (m) focus(m);
}

function sessionItem(app, body, s) {
  const name = s.label || "Unknown device";
  const b = actionButton(s.current ? "Log out this browser" : "Log out", async () => {
    await call("DELETE", `/sessions/${encodeURIComponent(s.id)}/`);
    if (s.current) {
      app.setUser(null);
      app.navigate("/login", { notice: "You are logged out." });
      return;
    }
    await fill(app, body, `The session on ${name} was logged out.`);
  });
  b.button.setAttribute("aria-label", s.current ? "Log out this browser" : `Log out ${name}, last active ${new Date(s.last_used_at).toLocaleString()}`);
  return h("li", { class: "card", "data-session": s.id },
    h("p", { class: "card-title" }, h("strong", null, name), s.current ? h("span", { class: "badge" }, "This browser") : null),
    h("p", { class: "meta" }, s.ip ? `IP ${s.ip} · ` : "", "signed in ", time(s.created_at), " · last active ", time(s.last_used_at)),
    h("p", { class: "actions" }, b.button), b.result);
}

function deviceItem(app, body, d) {
  const name = d.label || "Unknown device";
  const b = actionButton("Forget", async () => {
    await call("DELETE", `/sessions/${encodeURIComponent(d.id)}/`);
    await fill(app, body, `${name} is no longer trusted.`);
  });
  b.button.setAttribute("aria-label", `Forget ${name}, trusted since ${new Date(d.created_at).toLocaleString()}`);
  return h("li", { class: "card", "data-device": d.id },
    h("p", { class: "card-title" }, h("strong", null, name)),
    h("p", { class: "meta" }, d.ip ? `IP ${d.ip} · ` : "", "trusted since ", time(d.created_at), " · until ", time(d.expires_at)),
    h("p", { class: "actions" }, b.button), b.result);
}

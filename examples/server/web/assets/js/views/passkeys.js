// Passkeys: the account's passkeys (name, when added, when last used),
// each renamed or removed; adding one. Adding and removing need a fresh
// session: the API's 403 opens the re-authentication dialog.

import { call } from "../api.js";
import { h, heading, form, message, focus, actionButton, time, uid, passkeysElsewhere } from "../ui.js";
import * as passkeys from "../passkeys.js";

export default {
  title: "Passkeys",
  access: "user",
  async render(app) {
    const section = h("section", null, heading("Passkeys"));
    const body = h("div");
    section.append(body);
    await fill(app, body);
    return section;
  },
};

// fill lists the passkeys in body; notice, when given, is shown first and
// takes the focus.
async function fill(app, body, notice) {
  const list = await passkeys.list();
  body.replaceChildren(...[
    notice ? message(notice) : [],
    h("p", null, "A passkey logs you in with your device’s screen lock — a fingerprint, your face or a PIN — or a security key, instead of your password. It works only on this site, so a fake site cannot trick you into using it."),
    h("h2", null, "Your passkeys"),
    list.length
      ? [
        h("ul", { class: "cards", id: "passkey-list" }, list.map((pk) => item(app, body, pk))),
        h("p", { class: "hint" }, "While your account has a passkey, logging in with your password asks for one of them too",
          app.user && app.user.two_factor_enabled ? " (or a code from your authenticator app)." : "."),
      ]
      : h("p", { id: "no-passkeys" }, "None yet."),
    h("h2", null, "Add a passkey"),
    addPasskey(app, body),
  ].flat().filter((n) => n != null));
  const m = body.querySelector(".message");
  if (notice && m) focus(m);
}

// addPasskey is the form that adds a passkey where this page can, else
// why it cannot.
function addPasskey(app, body) {
  switch (passkeys.support()) {
    case "elsewhere":
      return passkeysElsewhere("Passkeys work at");
    case "browser":
      return h("p", { class: "message info", id: "passkeys-unsupported" }, "This browser cannot make passkeys. Use a browser that can (a recent Chrome, Edge, Firefox or Safari).");
  }
  return form({
    id: "add-passkey",
    fields: [{
      name: "name", label: "Name", autocomplete: "off",
      hint: "To tell your passkeys apart, such as “Work laptop”. Left empty, it is named after this browser and system.",
    }],
    submit: "Add a passkey",
    onSubmit: async (v) => {
      const pk = await passkeys.register(v.name.trim());
      await fill(app, body, `The passkey “${pk.name}” was added. You can now log in with it, without your password.`);
    },
  });
}

function item(app, body, pk) {
  const name = pk.name || "Passkey";
  const area = h("div", { class: "passkey-edit" });
  const buttons = h("p", { class: "actions" });
  const rename = h("button", { type: "button", "aria-label": `Rename ${name}` }, "Rename");
  const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove ${name}` }, "Remove");
  buttons.append(rename, remove);

  // back closes the rename form or the removal's question.
  const back = (to) => {
    area.replaceChildren();
    buttons.hidden = false;
    to.focus();
  };

  rename.addEventListener("click", () => {
    const f = form({
      id: uid("rename"),
      fields: [{ name: "name", label: "New name", autocomplete: "off", required: true, value: name }],
      submit: "Save",
      extra: h("button", { type: "button", onclick: () => back(rename) }, "Cancel"),
      onSubmit: async (v) => {
        const data = await call("PATCH", `/passkeys/${encodeURIComponent(pk.id)}/`, { name: v.name.trim() });
        await fill(app, body, `The passkey is now named “${data.passkey.name}”.`);
      },
    });
    buttons.hidden = true;
    area.replaceChildren(f);
    const input = f.field("name");
    focus(input);
    requestAnimationFrame(() => input.select());
  });

  remove.addEventListener("click", () => {
    const really = actionButton("Remove the passkey", async () => {
      await call("DELETE", `/passkeys/${encodeURIComponent(pk.id)}/`);
      await fill(app, body, `The passkey “${name}” was removed: it no longer logs you in. Your device may still offer it; you can delete it there too.`);
    }, { class: "danger" });
    const question = h("p", { tabindex: "-1", class: "question" }, `Remove “${name}”? It will no longer log you in.`);
    buttons.hidden = true;
    area.replaceChildren(question,
      h("p", { class: "actions" }, really.button, h("button", { type: "button", onclick: () => back(remove) }, "Keep it")),
      really.result);
    focus(question);
  });

  return h("li", { class: "card", "data-passkey": pk.id },
    h("p", { class: "card-title" }, h("strong", { class: "passkey-name" }, name),
      pk.backed_up ? h("span", { class: "badge" }, "Synced") : null),
    h("p", { class: "meta" }, "added ", time(pk.created_at), " · last used ", time(pk.last_used_at)),
    // The rename form or the removal's question takes the buttons' place.
    area,
    buttons);
}

// The development mailbox: the emails the server printed to its console
// instead of sending them, newest first, with their links. The server
// serves it only with the console mailer.

import { getJSON } from "../api.js";
import { h, heading, time } from "../ui.js";

const POLL_MS = 1000;

export default {
  title: "Development mailbox",
  async render(app) {
    const list = h("ol", { class: "mails", id: "mails", reversed: true });
    const empty = h("p", { id: "no-mail" }, "No email yet. Sign up, or ask for a reset link, and it appears here.");
    const seen = new Set();
    let first = true;

    const load = async () => {
      const data = await getJSON(app.mailbox);
      const fresh = (data.messages || []).filter((m) => !seen.has(m.id));
      // Newest first: prepend the new ones, oldest of them first, so the
      // elements already listed (and the focus) stay where they are.
      for (const m of fresh.slice().reverse()) {
        seen.add(m.id);
        list.prepend(mailItem(m));
      }
      empty.hidden = seen.size > 0;
      if (fresh.length && !first) app.notify(fresh.length === 1 ? "1 new email." : `${fresh.length} new emails.`);
      first = false;
    };
    await load();

    let timer = setTimeout(function tick() {
      load().catch(() => {}).finally(() => {
        if (timer) timer = setTimeout(tick, POLL_MS);
      });
    }, POLL_MS);
    app.onLeave(() => {
      clearTimeout(timer);
      timer = null;
    });

    return h("section", null,
      heading("Development mailbox"),
      h("div", { class: "message warning", id: "dev-warning" },
        h("p", null, h("strong", null, "Development only. "),
          "This server prints emails to its console instead of sending them (it runs without -smtp), and shows them here to anyone who can open this address — with their links, which can take over accounts. Never run it like this where others can reach it.")),
      h("p", null, "New emails appear by themselves. Links open this app’s pages."),
      empty,
      list);
  },
};

function mailItem(m) {
  const id = `mail-${m.id}`;
  return h("li", { class: "mail card", id, "data-kind": m.kind },
    h("h2", { class: "mail-subject" }, m.subject || "(no subject)"),
    h("dl", { class: "mail-meta" },
      h("div", null, h("dt", null, "To"), h("dd", { class: "mail-to" }, m.to)),
      h("div", null, h("dt", null, "Sent"), h("dd", null, time(m.sent_at))),
      h("div", null, h("dt", null, "Kind"), h("dd", null, h("code", null, m.kind)))),
    (m.links || []).length
      ? h("ul", { class: "mail-links" }, m.links.map((l) => h("li", null, h("a", { href: l, class: "mail-link" }, l))))
      : null,
    h("details", null, h("summary", null, "Show the text"), h("pre", { class: "mail-text" }, m.text)));
}

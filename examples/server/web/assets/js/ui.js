// Small DOM helpers shared by the views: elements built from nodes (never
// from HTML strings), forms whose errors appear next to their fields, and
// status messages.

import { Problem, NetworkError, Cancelled } from "./api.js";
import { PasskeyError, support as passkeySupport, elsewhereURL } from "./passkeys.js";

// expected says whether err is a failure to tell people (a refusal of the
// API, the network, a cancelled confirmation, a passkey ceremony the
// browser did not complete) rather than a defect.
function expected(err) {
  return err instanceof Problem || err instanceof NetworkError || err instanceof Cancelled || err instanceof PasskeyError;
}

// h builds an element: attrs are attributes (true for a bare one, null or
// false for none), "class", "text" (textContent) or "on<event>" listeners;
// children are nodes or strings, nested arrays allowed.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// heading is the view's h1; the app moves focus to it on a view change.
export function heading(text) {
  return h("h1", { tabindex: "-1", class: "view-heading" }, text);
}

// link is an in-app link; the router handles the click.
export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

let seq = 0;

// uid returns a fresh id with prefix.
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

// message is a box for the result of an action; kind is "success",
// "info" or "error". Give it the focus (focus) so that a screen reader
// reads it: it has no live role, which would read it twice.
export function message(text, kind = "success", ...more) {
  return h("div", { class: `message ${kind}`, tabindex: "-1" }, h("p", null, text), more);
}

// focus moves the focus to el once it is in the page.
export function focus(el) {
  requestAnimationFrame(() => el && el.isConnected && el.focus());
}

// waitText words a Retry-After.
export function waitText(seconds) {
  if (seconds <= 1) return "in a second";
  if (seconds < 90) return `in ${seconds} seconds`;
  const m = Math.ceil(seconds / 60);
  return m < 90 ? `in ${m} minutes` : `in ${Math.ceil(m / 60)} hours`;
}

// problemText is the sentence for a failed request.
export function problemText(err) {
  if (err instanceof Problem) {
    if (err.status === 429) {
      const when = err.retryAfter ? waitText(err.retryAfter) : "later";
      return `Too many attempts. Try again ${when}.`;
    }
    if (err.status === 503) return `The service is unavailable for a moment. Try again ${err.retryAfter ? waitText(err.retryAfter) : "shortly"}.`;
    return err.detail || err.message;
  }
  if (expected(err)) return err.message;
  return "Something went wrong. Reload the page and try again.";
}

// form builds a form. spec:
//   id        the form's id, prefix of its fields' ids
//   fields    [{name, label, type, autocomplete, hint, required, inputmode,
//             value, spellcheck}]; type "checkbox" gives a check box
//   submit    the submit button's text
//   submitClass  its class: "primary" (the default) or "danger"
//   onSubmit  async (values, form) => {...}: its rejection is shown in place
//   extra     nodes after the submit button
//   problemFields  maps a problem code that carries no field errors to
//             the field it is about, e.g. {invalid_code: "code"}
//   errorExtra  (problem) => nodes added to the error box
// The returned form has showError(err), reset() and field(name).
export function form(spec) {
  const f = h("form", { id: spec.id, class: "form", method: "post", novalidate: true });
  const errorBox = h("div", { class: "form-error", id: `${spec.id}-error`, tabindex: "-1", hidden: true });
  f.append(errorBox);
  const inputs = new Map();
  for (const field of spec.fields || []) {
    const { wrap, input } = fieldRow(spec.id, field);
    inputs.set(field.name, { input, wrap, field });
    f.append(wrap);
  }
  const button = h("button", { type: "submit", class: spec.submitClass || "primary" }, spec.submit);
  f.append(h("div", { class: "actions" }, button, spec.extra || []));

  f.field = (name) => inputs.get(name)?.input;
  f.clearErrors = () => {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    for (const { input, wrap } of inputs.values()) {
      input.removeAttribute("aria-invalid");
      const err = wrap.querySelector(".field-error");
      err.hidden = true;
      err.replaceChildren();
      describe(input);
    }
  };
  // showError puts a failure in place: each field's problems under it, the
  // rest in the box at the top; focus goes to the first field in error,
  // else to the box.
  f.showError = (err) => {
    f.clearErrors();
    const rest = [];
    let first = null;
    if (err instanceof Problem) {
      let errors = err.errors;
      const about = spec.problemFields && spec.problemFields[err.code];
      if (!Object.keys(errors).length && about && inputs.has(about)) errors = { [about]: [{ message: problemText(err) }] };
      for (const [name, list] of Object.entries(errors)) {
        const texts = (Array.isArray(list) ? list : [list]).map((e) => (e && e.message) || String(e));
        const entry = inputs.get(name);
        if (!entry) {
          rest.push(...texts.map((t) => `${name}: ${t}`));
          continue;
        }
        const box = entry.wrap.querySelector(".field-error");
        box.replaceChildren(...texts.map((t) => h("span", null, t)));
        box.hidden = false;
        entry.input.setAttribute("aria-invalid", "true");
        describe(entry.input);
        first = first || entry.input;
      }
    }
    if (!first || rest.length) {
      const lines = [problemText(err), ...rest];
      if (first) lines.shift(); // the fields say it
      errorBox.replaceChildren(...lines.map((t) => h("p", null, t)), ...[spec.errorExtra && spec.errorExtra(err)].filter(Boolean));
      errorBox.hidden = false;
    }
    focus(first || errorBox);
    if (!expected(err)) {
      reportError(err); // a bug: let it show in the console
    }
  };
  f.values = () => {
    const v = {};
    for (const [name, { input, field }] of inputs) {
      v[name] = field.type === "checkbox" ? input.checked : input.value;
    }
    return v;
  };
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (f.getAttribute("aria-busy") === "true") return;
    f.clearErrors();
    f.setAttribute("aria-busy", "true");
    button.setAttribute("aria-disabled", "true");
    try {
      await spec.onSubmit(f.values(), f);
    } catch (err) {
      f.showError(err);
    } finally {
      f.removeAttribute("aria-busy");
      button.removeAttribute("aria-disabled");
    }
  });
  return f;
}

// fieldRow builds one labelled field with its hint and its error slot.
function fieldRow(formID, field) {
  const id = `${formID}-${field.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const hint = field.hint ? h("p", { class: "hint", id: `${id}-hint` }, field.hint) : null;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  if (field.type === "checkbox") {
    const input = h("input", { type: "checkbox", id, name: field.name, checked: !!field.value });
    const wrap = h("div", { class: "field check" }, input, h("label", { for: id }, field.label), hint, error);
    describe(input);
    return { wrap, input };
  }
  const input = h("input", {
    id,
    name: field.name,
    type: field.type || "text",
    autocomplete: field.autocomplete || "off",
    required: !!field.required,
    inputmode: field.inputmode,
    spellcheck: field.spellcheck === undefined ? null : String(field.spellcheck),
    autocapitalize: field.type === "email" || field.type === "password" || field.inputmode ? "none" : null,
  });
  if (field.value) input.value = field.value;
  const label = h("label", { for: id }, field.label, field.required ? null : h("span", { class: "optional" }, " (optional)"));
  let control = input;
  if (field.type === "password") {
    const name = field.label.toLowerCase();
    const toggle = h("button", { type: "button", class: "reveal", "aria-controls": id, "aria-label": `Show ${name}` }, "Show");
    toggle.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      toggle.textContent = show ? "Hide" : "Show";
      toggle.setAttribute("aria-label", `${show ? "Hide" : "Show"} ${name}`);
    });
    control = h("div", { class: "with-button" }, input, toggle);
  }
  const wrap = h("div", { class: "field" }, label, hint, control, error);
  describe(input);
  return { wrap, input };
}

// describe points the input's aria-describedby at its hint and, when
// shown, its error.
function describe(input) {
  const ids = [`${input.id}-hint`, `${input.id}-error`].filter((id) => {
    const el = document.getElementById(id) || input.closest(".field")?.querySelector(`[id="${id}"]`);
    return el && !el.hidden;
  });
  if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
  else input.removeAttribute("aria-describedby");
}

// button builds a button that runs onClick, shows its failure in place (in
// a message after the button's row) and is busy meanwhile.
export function actionButton(text, onClick, attrs = {}) {
  const b = h("button", { type: "button", ...attrs }, text);
  const out = h("div", { class: "action-result" });
  b.addEventListener("click", async () => {
    if (b.getAttribute("aria-disabled") === "true") return;
    out.replaceChildren();
    b.setAttribute("aria-disabled", "true");
    try {
      await onClick(out);
    } catch (err) {
      const m = message(problemText(err), "error");
      out.replaceChildren(m);
      focus(m);
      if (!expected(err)) reportError(err);
    } finally {
      b.removeAttribute("aria-disabled");
    }
  });
  return { button: b, result: out };
}

// time formats an ISO date for people, in a <time> element.
export function time(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  return h("time", { datetime: iso }, d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
}

// copyText copies text to the clipboard and says how it went in status.
export async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch {
    status.textContent = "Copying is not allowed here: select the text and copy it.";
  }
}

// download offers text as a file.
export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// passkeysElsewhere is a note that passkeys work at another address of
// this server (text, then a link there), or null when that is not so.
export function passkeysElsewhere(text) {
  if (passkeySupport() !== "elsewhere") return null;
  const url = elsewhereURL();
  return h("p", { class: "message info passkey-elsewhere" }, text, " ", h("a", { href: url }, url), ".");
}

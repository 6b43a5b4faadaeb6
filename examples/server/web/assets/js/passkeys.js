// Passkeys (WebAuthn): whether this page can use them, and the ceremonies.
// Each is two API calls around the browser: the begin call answers the
// options as WebAuthn JSON ({publicKey: {…}}, binary members base64url),
// which the browser parses (PublicKeyCredential.parseCreationOptionsFromJSON
// and parseRequestOptionsFromJSON); its answer goes to the finish call as
// credential.toJSON().

import { call } from "./api.js";

// PasskeyError is a ceremony the browser did not complete: the person
// closed its dialog, it timed out, or the device refused. Its message is
// for people.
export class PasskeyError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = "PasskeyError";
    this.cause = cause;
  }
}

// config is the server's passkeys (data-passkeys, from webapp.go):
// {rp_id, origins}, or null when they are off.
const config = (() => {
  try {
    const c = JSON.parse(document.body.dataset.passkeys || "null");
    return c && typeof c.rp_id === "string" && Array.isArray(c.origins) ? c : null;
  } catch {
    return null;
  }
})();

// passkeysOn says whether the server has passkeys.
export function passkeysOn() {
  return config !== null;
}

// browserSupport says whether the browser has WebAuthn with its JSON
// methods (WebAuthn Level 3: Chrome 129, Firefox 119, Safari 18.4).
function browserSupport() {
  const P = window.PublicKeyCredential;
  return typeof P === "function" && typeof P.parseCreationOptionsFromJSON === "function" &&
    typeof P.parseRequestOptionsFromJSON === "function" && !!navigator.credentials;
}

// support says whether this page can use passkeys: "yes"; "off" (the
// server has none); "browser" (this browser cannot); "elsewhere" (they
// work at another origin of this server: see elsewhereURL).
export function support() {
  if (!config) return "off";
  if (!browserSupport()) return "browser";
  if (!config.origins.includes(location.origin)) return "elsewhere";
  return "yes";
}

// elsewhereURL is this page at the origin where passkeys work.
export function elsewhereURL() {
  return (config && config.origins[0] ? config.origins[0] : location.origin) + location.pathname;
}

// browserError turns the browser's refusal of a ceremony into words.
function browserError(err, adding) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "AbortError":
      return new PasskeyError(adding
        ? "No passkey was added: the request was cancelled or timed out."
        : "No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site.", err);
    case "InvalidStateError":
      return new PasskeyError(adding
        ? "This device already holds a passkey for your account."
        : "The passkey could not be used.", err);
    case "SecurityError":
      return new PasskeyError("Passkeys do not work on this address of the site.", err);
    case "NotSupportedError":
      return new PasskeyError("This device cannot make a passkey this site accepts.", err);
    default:
      return err; // a defect: let it show
  }
}

async function create(options) {
  let cred;
  try {
    cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey) });
  } catch (err) {
    throw browserError(err, true);
  }
  if (!cred) throw new PasskeyError("No passkey was added.");
  return cred.toJSON();
}

async function get(options) {
  let cred;
  try {
    cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey) });
  } catch (err) {
    throw browserError(err, false);
  }
  if (!cred) throw new PasskeyError("No passkey was used.");
  return cred.toJSON();
}

// register adds a passkey to the account (its name may be empty: the
// server names it after the browser and system) and resolves to it. The
// session must be fresh: the begin call asks the user to confirm it's them
// when it is not.
export async function register(name) {
  const options = await call("POST", "/passkeys/register/begin/", {});
  const credential = await create(options);
  const body = { credential };
  if (name) body.name = name;
  const data = await call("POST", "/passkeys/register/finish/", body);
  return data.passkey;
}

// login logs in with a passkey alone (the browser offers those it holds
// for the site) and resolves to {user}.
export async function login() {
  const options = await call("POST", "/passkeys/login/begin/", {}, { noRefresh: true });
  const credential = await get(options);
  return call("POST", "/passkeys/login/finish/", { credential }, { noRefresh: true });
}

// secondFactor completes a password login (its session_token) with one of
// the account's passkeys and resolves to {user}.
export async function secondFactor(sessionToken, rememberDevice) {
  const options = await call("POST", "/passkeys/2fa/begin/", { session_token: sessionToken }, { noRefresh: true });
  const credential = await get(options);
  return call("POST", "/passkeys/2fa/finish/", { session_token: sessionToken, credential, remember_device: !!rememberDevice }, { noRefresh: true });
}

// reauthenticate confirms the session with one of the account's passkeys:
// the session is fresh again.
export async function reauthenticate() {
  const options = await call("POST", "/passkeys/reauthenticate/begin/", {}, { noReauth: true });
  const credential = await get(options);
  await call("POST", "/passkeys/reauthenticate/finish/", { credential }, { noReauth: true });
}

// list resolves to the account's passkeys.
export async function list() {
  const data = await call("GET", "/passkeys/");
  return data.passkeys || [];
}

// The client of the account API, as any frontend would write it: JSON in
// and out, errors as RFC 9457 problems, the access token refreshed
// silently, and sensitive actions retried after the user confirms their
// identity.

export const BASE = "/api/auth";

// Problem is a refused request: the problem+json answer of the API.
export class Problem extends Error {
  constructor(status, body, retryAfter) {
    const b = body && typeof body === "object" ? body : {};
    super(b.detail || b.title || `The server answered ${status}.`);
    this.name = "Problem";
    this.status = status;
    this.code = b.code || "";
    this.detail = b.detail || "";
    // errors maps a request member to its problems: [{code, message}].
    this.errors = b.errors && typeof b.errors === "object" ? b.errors : {};
    // retryAfter is the Retry-After header in seconds (429, 503), or 0.
    this.retryAfter = retryAfter;
  }
}

// NetworkError is a request that got no answer.
export class NetworkError extends Error {
  constructor(cause) {
    super("The server could not be reached. Check your connection and try again.");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

// Cancelled is a sensitive action the user did not confirm.
export class Cancelled extends Error {
  constructor() {
    super("Cancelled: the action needs you to confirm your identity.");
    this.name = "Cancelled";
  }
}

// hooks are set by the app: reauthenticate() asks the user to confirm
// their identity and resolves to true once done; sessionEnded(problem) is
// called when a request finds the session gone.
const hooks = {
  reauthenticate: async () => false,
  sessionEnded: () => {},
};

export function setHooks(h) {
  Object.assign(hooks, h);
}

// The codes of a 401 that a refresh may cure: the access cookie expired
// (the browser dropped it, or the token in it expired).
const refreshable = new Set(["token_expired", "not_authenticated"]);
// The codes of a 401 that mean the session is over.
const ended = new Set(["token_expired", "not_authenticated", "invalid_token", "token_reused", "account_inactive"]);

async function send(method, url, body) {
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json, application/problem+json" },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new NetworkError(err);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  return { status: res.status, ok: res.ok, data, retryAfter: retryAfter(res.headers.get("Retry-After")) };
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) as
// seconds.
function retryAfter(v) {
  if (!v) return 0;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

// One refresh at a time: requests that fail together share it.
let refreshing = null;

// refresh asks for a new access token with the refresh cookie (HttpOnly,
// so the app cannot see whether there is one) and resolves to whether it
// worked.
export function refresh() {
  if (!refreshing) {
    refreshing = send("POST", BASE + "/refresh/")
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// call sends method to BASE + path with body (JSON) and resolves to the
// answer's JSON, or rejects with a Problem, a NetworkError or Cancelled.
//   - A 401 whose access token expired or is missing is retried once after
//     a silent refresh (opts.noRefresh turns that off).
//   - A 403 reauthentication_required asks the user to confirm their
//     identity, then retries (opts.noReauth turns that off).
//   - A 401 that remains means the session is over: the app is told,
//     unless opts.quiet.
export async function call(method, path, body, opts = {}) {
  const url = BASE + path;
  let r = await send(method, url, body);
  if (r.status === 401 && !opts.noRefresh && refreshable.has(code(r))) {
    if (await refresh()) r = await send(method, url, body);
  }
  if (r.status === 403 && code(r) === "reauthentication_required" && !opts.noReauth) {
    if (!(await hooks.reauthenticate())) throw new Cancelled();
    r = await send(method, url, body);
  }
  if (!r.ok) {
    const p = new Problem(r.status, r.data, r.retryAfter);
    if (p.status === 401 && !opts.quiet && !opts.noRefresh && ended.has(p.code)) hooks.sessionEnded(p);
    throw p;
  }
  return r.data || {};
}

function code(r) {
  return (r.data && r.data.code) || "";
}

// getJSON fetches a JSON document of this origin outside the API (the
// development mailbox).
export async function getJSON(url) {
  const r = await send("GET", url);
  if (!r.ok) throw new Problem(r.status, r.data, r.retryAfter);
  return r.data || {};
}

// The public API, and nothing else: every call here is one a user could make with curl.
// The bearer token lives in this module's variable only (never storage, cookies or the URL).

let bearer = null;
let base = "";

/** An API answer that was not 2xx, with its parsed body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }

  /** The 422's problems as {field, message}: the field is the loc's first name after body/query. */
  get fieldProblems() {
    const detail = this.status === 422 && this.body && Array.isArray(this.body.detail) ? this.body.detail : [];
    return detail.map((item) => {
      const loc = Array.isArray(item.loc) ? item.loc : [];
      const field = loc.length > 1 ? String(loc[1]) : String(loc[0] ?? "");
      return { field, where: loc.join("."), message: item.msg || "invalid" };
    });
  }
}

function describe(status, body) {
  if (status === 403 && body && body.details && body.details.required_permission) {
    return `Forbidden: this token lacks the permission ${body.details.required_permission}.`;
  }
  if (status === 422 && body && Array.isArray(body.detail)) {
    return "Invalid input: " + body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  if (body && typeof body.message === "string") {
    return `${status} ${body.error || ""}: ${body.message}`.replace(" :", ":");
  }
  return `The API answered ${status}.`;
}

export function configure(apiUrl) {
  base = (apiUrl || window.location.origin).replace(/\/+$/, "");
}

export function signIn(token) {
  bearer = token;
}

export function signOut() {
  bearer = null;
}

export function signedIn() {
  return bearer !== null;
}

async function call(method, path, { query, body } = {}) {
  const url = new URL(base + path);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Authorization: `Bearer ${bearer}`, Accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

const app = (org, appId) => `/v1/orgs/${encodeURIComponent(org)}/apps/${encodeURIComponent(appId)}/tokens`;
const one = (org, appId, id) => `${app(org, appId)}/${encodeURIComponent(id)}`;

export const whoami = () => call("GET", "/v1/whoami");
export const listTokens = (org, appId, query) => call("GET", app(org, appId), { query });
export const createToken = (org, appId, body) => call("POST", app(org, appId), { body });
export const getToken = (org, appId, id) => call("GET", one(org, appId, id));
export const history = (org, appId, id, query) => call("GET", `${one(org, appId, id)}/history`, { query });
export const updateToken = (org, appId, id, body) => call("PATCH", one(org, appId, id), { body });
export const rotateToken = (org, appId, id, body) => call("POST", `${one(org, appId, id)}/rotate`, { body });
export const revokeToken = (org, appId, id, reason, cascade) =>
  call("DELETE", one(org, appId, id), { query: { reason, cascade: cascade ? "true" : undefined } });

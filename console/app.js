// The console: sign-in, the token list, a token's details and history, and its actions.
// State is in this module's memory only; nothing is written to storage, cookies or the URL.
import config from "./config.js";
import * as api from "./api.js";
import { splitList, timeElement } from "./format.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const COLUMNS = ["Name", "Prefix", "State", "Expires", "Last used", "Created"];
const LISTS = ["permissions", "scopes", "workspace_ids", "namespace_ids", "environment_ids", "endpoint_paths"];

const state = {
  org: null,
  app: null,
  status: "",
  cursors: [null], // cursors[i] opens page i; the API's next_token opens the next one
  page: 0,
  next: null,
  current: null, // the token open in the details view
  historyNext: null,
};

api.configure(config.apiUrl);

// ---------------------------------------------------------------- messages

function say(text) {
  $("status").textContent = text;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
  for (const field of document.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    const note = document.getElementById(`${field.id}-error`);
    if (note) note.remove();
  }
}

/** An API error from its body: which permission a 403 misses, which field a 422 refuses. */
function showError(error, form) {
  const box = $("error");
  const heading = document.createElement("p");
  heading.textContent = error.message;
  box.replaceChildren(heading);
  if (error instanceof api.ApiError) {
    for (const problem of error.fieldProblems) {
      const field = form && form.elements.namedItem(problem.field);
      if (field && field.id) {
        field.setAttribute("aria-invalid", "true");
        const note = document.createElement("span");
        note.id = `${field.id}-error`;
        note.className = "field-error";
        note.textContent = problem.message;
        field.insertAdjacentElement("afterend", note);
        field.setAttribute("aria-describedby", `${note.id} ${field.getAttribute("aria-describedby") || ""}`.trim());
        field.focus();
      }
    }
  }
  if (form && form.closest("dialog")) {
    // The dialog is modal: the page's alert is behind it, so the message goes into the form too.
    form.prepend(box);
  } else {
    $("main").prepend(box);
  }
  box.hidden = false;
}

async function attempt(work, form) {
  clearError();
  try {
    return await work();
  } catch (error) {
    showError(error, form);
    if (error instanceof api.ApiError && error.status === 401) signOut("The token is no longer valid.");
    return undefined;
  }
}

// ---------------------------------------------------------------- sign-in

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("sign-in-token");
  const token = input.value.trim();
  input.value = ""; // the only copy is the API module's variable
  if (!token) {
    showError(new Error("Paste a token to sign in."));
    return;
  }
  api.signIn(token);
  const me = await attempt(() => api.whoami());
  if (!me) {
    api.signOut();
    return;
  }
  state.org = me.org_id;
  state.app = me.app_id;
  $("who").textContent = `${me.token.name} (${me.token.prefix}) in org ${me.org_id}, app ${me.app_id}`;
  $("who").hidden = false;
  $("sign-out").hidden = false;
  $("sign-in").hidden = true;
  say(`Signed in to ${me.org_id} / ${me.app_id}.`);
  await showList(true);
});

function signOut(reason) {
  api.signOut();
  Object.assign(state, { org: null, app: null, current: null, cursors: [null], page: 0, next: null });
  for (const id of ["tokens", "detail", "who", "sign-out"]) $(id).hidden = true;
  $("token-table").tBodies[0].replaceChildren();
  $("sign-in").hidden = false;
  say(reason || "Signed out.");
  $("sign-in-token").focus();
}

$("sign-out").addEventListener("click", () => signOut());

// ---------------------------------------------------------------- the list

/** A row's state: the filter when one is set; otherwise what the token itself says. */
function stateOf(token) {
  if (state.status) return state.status;
  if (token.revoked_at) return "revoked";
  if (Date.parse(token.expires_at) <= Date.now()) return "expired";
  return "live";
}

async function showList(reset) {
  if (reset) Object.assign(state, { cursors: [null], page: 0 });
  const query = { limit: PAGE_SIZE, status: state.status, next_token: state.cursors[state.page] };
  const page = await attempt(() => api.listTokens(state.org, state.app, query));
  if (!page) return;
  state.next = page.next_token || null;
  const rows = page.tokens.map((token) => {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    const link = document.createElement("button");
    link.type = "button";
    link.className = "link";
    link.textContent = token.name;
    link.addEventListener("click", () => openToken(token.token_id));
    name.append(link);
    const cells = [token.prefix, stateOf(token)].map((text) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      return cell;
    });
    const times = [timeElement(token.expires_at), timeElement(token.last_used_at), timeElement(token.issued_at)];
    row.append(name, ...cells, ...times.map((time) => wrap("td", time)));
    // Each cell names its column, for the stacked layout of narrow screens (styles.css).
    [...row.cells].forEach((cell, index) => {
      cell.dataset.label = COLUMNS[index];
    });
    return row;
  });
  $("token-table").tBodies[0].replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  $("prev-page").disabled = state.page === 0;
  $("next-page").disabled = !state.next;
  $("detail").hidden = true;
  $("tokens").hidden = false;
  say(`Page ${state.page + 1}: ${rows.length} token${rows.length === 1 ? "" : "s"}.`);
}

function wrap(tag, child) {
  const element = document.createElement(tag);
  element.append(child);
  return element;
}

$("status-filter").addEventListener("change", (event) => {
  state.status = event.target.value;
  showList(true);
});
$("next-page").addEventListener("click", () => {
  state.cursors[state.page + 1] = state.next;
  state.page += 1;
  showList(false);
});
$("prev-page").addEventListener("click", () => {
  state.page = Math.max(0, state.page - 1);
  showList(false);
});

// ---------------------------------------------------------------- details and history

function fieldList(target, entries) {
  const items = [];
  for (const [key, value] of entries) {
    const term = document.createElement("dt");
    term.textContent = key;
    const description = document.createElement("dd");
    if (typeof value === "string" && /_at$/.test(key)) description.append(timeElement(value));
    else if (value === null || value === undefined) description.textContent = "none";
    else if (Array.isArray(value)) description.textContent = value.length ? value.join(", ") : "none";
    else if (typeof value === "object") description.textContent = JSON.stringify(value);
    else description.textContent = String(value);
    items.push(term, description);
  }
  $(target).replaceChildren(...items);
}

async function openToken(id, { keepMessage } = {}) {
  const read = await attempt(() => api.getToken(state.org, state.app, id));
  if (!read) return;
  state.current = read;
  $("detail-title").textContent = `Token ${read.token.name}`;
  fieldList("detail-fields", Object.entries(read.token));
  fieldList("detail-details", Object.entries(read.details || {}));
  const enabled = read.details ? read.details.enabled !== false : true;
  $("act-toggle").textContent = enabled ? "Disable" : "Enable";
  const ended = read.token.revoked_at !== null;
  for (const button of ["act-edit", "act-toggle", "act-rotate", "act-revoke"]) $(button).disabled = ended;
  $("history").replaceChildren();
  state.historyNext = null;
  await loadHistory();
  $("tokens").hidden = true;
  $("detail").hidden = false;
  $("detail-title").focus();
  if (!keepMessage) say(`Token ${read.token.name}: ${read.details ? read.details.status : ""}.`);
}

async function loadHistory() {
  const id = state.current.token.token_id;
  const page = await attempt(() => api.history(state.org, state.app, id, { next_token: state.historyNext }));
  if (!page) return;
  for (const entry of page.events) {
    const item = document.createElement("li");
    const what = document.createElement("strong");
    what.textContent = entry.type;
    const actor = entry.actor ? ` by ${entry.actor.token_id || entry.actor.user_id || "the service"}` : "";
    const changes = (entry.changes || []).map((c) => `${c.field}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`);
    item.append(what, " ", timeElement(entry.occurred_at), document.createTextNode(actor));
    if (changes.length) item.append(wrap("p", document.createTextNode(changes.join("; "))));
    $("history").append(item);
  }
  state.historyNext = page.next_token || null;
  $("more-history").hidden = !state.historyNext;
}

$("more-history").addEventListener("click", () => attempt(loadHistory));
$("back").addEventListener("click", () => showList(false));

// ---------------------------------------------------------------- dialogs

for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => {
    clearError();
    button.closest("dialog").close();
  });
}

function openDialog(id) {
  clearError();
  $(id).showModal();
}

/** Shows a new token's secrets once; "I have stored it" wipes them from the page and memory. */
function showSecret(created) {
  $("secret-value").value = created.plaintext_token;
  $("refresh-value").value = created.refresh_token_plaintext || "";
  $("refresh-block").hidden = !created.refresh_token_plaintext;
  $("copy-status").textContent = "";
  $("secret-dialog").showModal();
  $("secret-value").select();
}

async function copy(id, what) {
  try {
    await navigator.clipboard.writeText($(id).value);
    $("copy-status").textContent = `${what} copied to the clipboard.`;
  } catch {
    $("secret-value").select();
    $("copy-status").textContent = "Copying failed: select the text and copy it by hand.";
  }
}

$("copy-secret").addEventListener("click", () => copy("secret-value", "Access token"));
$("copy-refresh").addEventListener("click", () => copy("refresh-value", "Refresh token"));
// Escape would close it without the explicit confirmation.
$("secret-dialog").addEventListener("cancel", (event) => event.preventDefault());
$("stored-secret").addEventListener("click", () => {
  $("secret-value").value = "";
  $("refresh-value").value = "";
  $("copy-status").textContent = "";
  $("secret-dialog").close();
  say("The secret is no longer shown anywhere in this console.");
});

// ---------------------------------------------------------------- create

function expiryRange() {
  const input = $("c-expires_at");
  const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = new Date();
  const latest = new Date(now.getTime() + config.maxTokenLifetimeDays * 24 * 3600 * 1000);
  input.min = local(new Date(now.getTime() + 60000));
  input.max = local(latest);
  $("expiry-help").textContent =
    `Between now and ${config.maxTokenLifetimeDays} days from now; empty for the service's default.`;
}

$("open-create").addEventListener("click", () => {
  $("create-form").reset();
  expiryRange();
  openDialog("create-dialog");
  $("c-name").focus();
});

/** The create body: the seed's fields, and ip_allowlist, credits and canary only when filled in. */
function createBody(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = { name: value("name") };
  if (value("description")) body.description = value("description");
  for (const name of LISTS) {
    const items = splitList(form.elements.namedItem(name).value);
    if (items.length) body[name] = items;
  }
  if (value("expires_at")) body.expires_at = new Date(value("expires_at")).toISOString();
  for (const name of ["rate_limit_rps", "rate_limit_burst"]) {
    if (value(name)) body[name] = Number(value(name));
  }
  const allowlist = splitList(form.elements.namedItem("ip_allowlist").value);
  if (allowlist.length) body.ip_allowlist = allowlist;
  if (value("credits")) {
    const amount = value("credits_refill_amount");
    const interval = value("credits_refill_interval");
    body.credits = {
      remaining: Number(value("credits")),
      refill: amount && interval ? { amount: Number(amount), interval } : null,
    };
  }
  if (form.elements.namedItem("canary").checked) body.canary = true;
  return body;
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const created = await attempt(() => api.createToken(state.org, state.app, createBody(form)), form);
  if (!created) return;
  $("create-dialog").close();
  form.reset();
  say(`Created ${created.token.name}.`);
  showSecret(created);
  await showList(true);
});

// ---------------------------------------------------------------- edit, disable and enable, rotate, revoke

$("act-edit").addEventListener("click", () => {
  $("e-name").value = state.current.token.name;
  $("e-description").value = state.current.token.description || "";
  openDialog("edit-dialog");
  $("e-name").focus();
});

$("edit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const description = $("e-description").value.trim();
  const body = { name: $("e-name").value.trim(), description: description || null };
  const id = state.current.token.token_id;
  if (!(await attempt(() => api.updateToken(state.org, state.app, id, body), form))) return;
  $("edit-dialog").close();
  await openToken(id, { keepMessage: true });
  say("Saved.");
});

$("act-toggle").addEventListener("click", async () => {
  const id = state.current.token.token_id;
  const enabled = state.current.details ? state.current.details.enabled !== false : true;
  if (!(await attempt(() => api.updateToken(state.org, state.app, id, { enabled: !enabled })))) return;
  await openToken(id, { keepMessage: true });
  say(enabled ? "Disabled: the token is refused until it is enabled again." : "Enabled.");
});

$("act-rotate").addEventListener("click", () => {
  $("rotate-form").reset();
  openDialog("rotate-dialog");
  $("r-grace").focus();
});

$("rotate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const raw = $("r-grace").value.trim();
  const body = { expire_current_in_seconds: raw === "" ? 0 : Number(raw) };
  const id = state.current.token.token_id;
  const rotated = await attempt(() => api.rotateToken(state.org, state.app, id, body), form);
  if (!rotated) return;
  $("rotate-dialog").close();
  await openToken(id, { keepMessage: true });
  say("Rotated.");
  showSecret(rotated);
});

$("act-revoke").addEventListener("click", () => {
  $("revoke-form").reset();
  openDialog("revoke-dialog");
  $("v-reason").focus();
});

$("revoke-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const reason = $("v-reason").value.trim() || undefined;
  const cascade = $("v-cascade").checked;
  const id = state.current.token.token_id;
  const done = await attempt(async () => {
    await api.revokeToken(state.org, state.app, id, reason, cascade);
    return true;
  }, form);
  if (!done) return;
  $("revoke-dialog").close();
  await openToken(id, { keepMessage: true });
  say(cascade ? "Revoked, with every token it created." : "Revoked.");
});

$("sign-in-token").focus();

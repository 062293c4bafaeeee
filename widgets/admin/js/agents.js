// Agents and teams: create (with a one-time password or an invitation link), roles,
// skills, capacity per channel, teams, key accounts; disable (ends their sessions), a new
// invitation link, a two-factor reset.
import { get, post, patch, api } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, numberInput, checkbox, select, listInput, showErrors, clearErrors, errorsOf, shownOnce } from "./ui.js";

const CHANNELS = ["voice", "chat", "sms", "whatsapp", "email", "fax", "api"];
const DEPARTMENTS = ["service", "sales", "marketing", "rnd"];
const ROLES = ["agent", "supervisor", "admin"];

export async function render(root, [selected]) {
  const agents = (await get("/api/v1/agents")).items;
  const editor = h("section", { id: "agent-editor", "aria-live": "polite" });
  const open = (agent) => drawEditor(editor, agent, () => render(root, [agent?.id]));
  replace(root,
    h("h1", {}, t("agents.title")),
    h("div", { class: "actions" }, h("button", { class: "primary", id: "new-agent", onclick: () => open(null) }, t("agents.new"))),
    editor,
    h("table", { class: "list", id: "agents" },
      h("thead", {}, h("tr", {}, ["name", "email", "role", "skills", "teams", "capacity", "status", ""].map((c) => h("th", {}, c && t(`agents.${c}`))))),
      h("tbody", {}, agents.map((a) => h("tr", { id: `agent-${a.id}`, class: a.active ? "" : "muted" },
        h("td", {}, a.name), h("td", {}, a.email), h("td", {}, t(`role.${a.role}`)),
        h("td", {}, [...a.languages, ...a.departments, ...a.tags].join(", ")),
        h("td", {}, a.teams.join(", ")),
        h("td", {}, Object.entries(a.capacity).map(([c, n]) => `${c} ${n}`).join(", ")),
        h("td", {}, a.active ? t(`presence.${a.presence}`) : t("agents.disabled"), a.totp_enabled ? " · 2FA" : ""),
        h("td", {}, h("button", { type: "button", onclick: () => open(a) }, t("common.edit"))))))),
    teamsOverview(agents));
  const current = agents.find((a) => a.id === selected);
  if (current) open(current);
}

function teamsOverview(agents) {
  const teams = new Map();
  for (const a of agents) for (const team of a.teams) (teams.get(team) || teams.set(team, []).get(team)).push(a.name);
  return h("section", { "aria-labelledby": "h-teams" },
    h("h2", { id: "h-teams" }, t("agents.teams_title")),
    teams.size ? h("ul", {}, [...teams].map(([team, names]) => h("li", {}, h("strong", {}, team), ": ", names.join(", "))))
      : h("p", { class: "muted" }, t("agents.no_teams")),
    h("p", { class: "muted" }, t("agents.teams_hint")));
}

function oneTimePassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

function drawEditor(box, agent, done) {
  const creating = !agent;
  const a = agent ? structuredClone(agent) : { name: "", email: "", role: "agent", languages: [], departments: [], tags: [], teams: [], capacity: {}, phone: null };
  let access = "password";
  const general = h("div");
  const result = h("div", { id: "agent-result" });
  const form = h("form", { class: "card", id: "agent-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    const body = { name: a.name, role: a.role, languages: a.languages, departments: a.departments, tags: a.tags, teams: a.teams,
      phone: a.phone || null, totp_required: !!a.totp_required };
    const capacity = Object.fromEntries(Object.entries(a.capacity).filter(([, n]) => Number.isInteger(n)));
    if (Object.keys(capacity).length) body.capacity = capacity;
    let password;
    if (creating) {
      body.email = a.email;
      if (access === "password") body.password = password = oneTimePassword();
    }
    try {
      const saved = creating ? await post("/api/v1/agents", body) : await patch(`/api/v1/agents/${a.id}`, body);
      toast(t("agents.saved"));
      if (creating && password) return replace(box, shownOnce(t("agents.one_time_password", { email: saved.email }), password), doneButton(done));
      if (creating) return replace(box, await inviteBox(saved), doneButton(done));
      done();
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("h2", {}, creating ? t("agents.new") : t("agents.edit", { name: a.name })),
  h("div", { class: "grid" },
    field(t("agents.name"), input(a.name, (v) => { a.name = v; }, { required: true, id: "agent-name" }), { path: "name" }),
    creating ? field(t("agents.email"), input(a.email, (v) => { a.email = v; }, { type: "email", required: true, id: "agent-email" }), { path: "email" }) : null,
    field(t("agents.role"), select(ROLES.map((r) => [r, t(`role.${r}`)]), a.role, (v) => { a.role = v; }, { id: "agent-role" }), { path: "role" }),
    field(t("agents.languages"), listInput(a.languages, (v) => { a.languages = v; }, { id: "agent-languages", placeholder: "de, en" }), { path: "languages" }),
    field(t("agents.tags"), listInput(a.tags, (v) => { a.tags = v; }, { id: "agent-tags" }), { path: "tags" }),
    field(t("agents.teams"), listInput(a.teams, (v) => { a.teams = v; }, { id: "agent-teams", placeholder: "key_accounts" }), { path: "teams" }),
    field(t("agents.phone"), input(a.phone, (v) => { a.phone = v; }, { id: "agent-phone", placeholder: "+49… / sip:…" }), { path: "phone" })),
  h("fieldset", {}, h("legend", {}, t("agents.departments")),
    DEPARTMENTS.map((d) => checkbox(t(`department.${d}`), a.departments.includes(d), (on) => {
      a.departments = on ? [...new Set([...a.departments, d])] : a.departments.filter((x) => x !== d);
    }, { id: `agent-dept-${d}` }))),
  h("fieldset", {}, h("legend", {}, t("agents.capacity")),
    h("div", { class: "grid" }, CHANNELS.map((c) => field(c, numberInput(a.capacity[c], (v) => { a.capacity[c] = v; },
      { min: 0, max: 100, id: `agent-cap-${c}`, placeholder: t("agents.default_capacity") }), { path: `capacity.${c}` })))),
  checkbox(t("agents.totp_required"), a.totp_required, (v) => { a.totp_required = v; }),
  creating ? h("fieldset", {}, h("legend", {}, t("agents.access")),
    ["password", "invitation"].map((mode) => h("label", { class: "check" },
      h("input", { type: "radio", name: "access", value: mode, checked: mode === access, id: `access-${mode}`, onchange: () => { access = mode; } }),
      t(`agents.access_${mode}`)))) : null,
  general,
  h("div", { class: "actions" },
    h("button", { class: "primary", type: "submit", id: "agent-save" }, creating ? t("agents.create") : t("common.save")),
    h("button", { type: "button", onclick: () => replace(box) }, t("common.cancel"))));
  if (creating) return replace(box, form);
  replace(box, form, accountActions(a, result, done), result, keyAccounts(a));
}

function doneButton(done) {
  return h("div", { class: "actions" }, h("button", { type: "button", id: "agent-done", onclick: done }, t("common.done")));
}

async function inviteBox(agent) {
  const link = await post(`/api/v1/agents/${agent.id}/invitation`);
  return shownOnce(t("agents.invitation_link", { email: agent.email }), link.url);
}

function accountActions(a, result, done) {
  const act = async (fn, message) => {
    try { await fn(); toast(message); done(); } catch (err) { toast(err.message, "error"); }
  };
  return h("div", { class: "actions card" },
    a.active
      ? h("button", { type: "button", id: "agent-disable", onclick: () => confirm(t("agents.disable_confirm", { name: a.name }))
          && act(() => patch(`/api/v1/agents/${a.id}`, { active: false }), t("agents.disabled_done")) }, t("agents.disable"))
      : h("button", { type: "button", id: "agent-enable", onclick: () => act(() => patch(`/api/v1/agents/${a.id}`, { active: true }), t("agents.enabled_done")) }, t("agents.enable")),
    h("button", { type: "button", id: "agent-invite", onclick: async () => {
      try { replace(result, await inviteBox(a)); } catch (err) { toast(err.message, "error"); }
    } }, t("agents.new_invitation")),
    h("button", { type: "button", id: "agent-password", onclick: async () => {
      const password = oneTimePassword();
      try { await patch(`/api/v1/agents/${a.id}`, { password }); replace(result, shownOnce(t("agents.one_time_password", { email: a.email }), password)); }
      catch (err) { toast(err.message, "error"); }
    } }, t("agents.new_password")),
    a.totp_enabled ? h("button", { type: "button", id: "agent-totp-reset", onclick: () => confirm(t("agents.totp_reset_confirm", { name: a.name }))
      && act(() => api("DELETE", `/api/v1/agents/${a.id}/totp`), t("agents.totp_reset_done")) }, t("agents.totp_reset")) : null);
}

function keyAccounts(a) {
  const list = h("ul", { id: "key-accounts" });
  const found = h("ul", { id: "key-account-search" });
  const load = async () => {
    const items = (await get(`/api/v1/agents/${a.id}/key-accounts`)).items;
    replace(list, items.length ? items.map((c) => h("li", {}, c.organisation ? `${c.organisation} – ` : "", c.name || c.id, " ",
      h("span", { class: `badge tier-${c.tier}` }, c.tier), " ",
      h("button", { type: "button", class: "link", onclick: async () => { await patch(`/api/v1/customers/${c.id}`, { key_account_manager_id: null }); load(); } }, t("agents.unassign"))))
      : h("li", { class: "muted" }, t("agents.no_key_accounts")));
  };
  const search = async (q) => {
    if (q.trim().length < 2) return replace(found);
    const items = (await get(`/api/v1/customers?q=${encodeURIComponent(q)}`)).items;
    replace(found, items.map((c) => h("li", {}, c.organisation ? `${c.organisation} – ` : "", c.name || c.id, " ",
      h("button", { type: "button", onclick: async () => { await patch(`/api/v1/customers/${c.id}`, { key_account_manager_id: a.id }); replace(found); load(); } }, t("agents.assign")))));
  };
  load();
  return h("section", { class: "card", "aria-labelledby": "h-kam" },
    h("h3", { id: "h-kam" }, t("agents.key_accounts")), list,
    field(t("agents.find_customer"), h("input", { type: "search", id: "kam-search", oninput: (e) => search(e.target.value) })), found);
}

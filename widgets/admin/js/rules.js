// The routing rules editor: ordered rules, queues with their hours, SLA targets per tier
// and channel, live validation by the hub (errors marked at their position), a simulator
// against the draft or the live rules, saving with a diff, and the version history with
// rollback. The hub never takes a draft it has not validated: an invalid one cannot be saved.
import { get, post, put } from "/console/js/api.js";
import { h, replace, toast, announce } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, numberInput, checkbox, select, showErrors, errorsOf, diffView, debounce, when } from "./ui.js";
import { TierEditor } from "./tiers.js";

const CHANNELS = ["email", "sms", "whatsapp", "voice", "fax", "chat", "api"];
const BASE = "/api/v1/routing";

export async function render(root) {
  const [live, versions, tiers, agents] = await Promise.all([
    get(`${BASE}/rules`), get(`${BASE}/rules/versions`), get("/api/v1/tiers"), get("/api/v1/agents"),
  ]);
  new RulesEditor(root, live, versions.items, tiers, agents.items).draw();
}

// The document as the hub reads it: no empty `when`, no empty actions.
function cleaned(doc) {
  const out = structuredClone(doc);
  for (const rule of out.rules || []) {
    if (!rule.when || !String(rule.when).trim()) delete rule.when;
    if (rule.actions) {
      for (const [k, v] of Object.entries(rule.actions)) if (v === "" || v === undefined) delete rule.actions[k];
      if (!Object.keys(rule.actions).length) delete rule.actions;
    }
  }
  return out;
}

// "mon-fri: 08:00-18:00, 13:00-17:00" per line <-> {"mon-fri": ["08:00-18:00", ...]}
const windowsText = (open) => Object.entries(open || {}).map(([days, spans]) => `${days}: ${[].concat(spans).join(", ")}`).join("\n");
function windowsOf(text) {
  const open = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at < 0) continue;
    open[line.slice(0, at).trim()] = line.slice(at + 1).split(",").map((s) => s.trim()).filter(Boolean);
  }
  return open;
}

class RulesEditor {
  constructor(root, live, versions, tiers, agents) {
    this.root = root;
    this.live = live;
    this.draft = structuredClone(live.rules);
    this.draft.rules ||= [];
    this.draft.queues ||= {};
    this.versions = versions;
    this.tierInfo = tiers;
    this.tiers = tiers.items;
    this.agents = new Map(agents.map((a) => [a.id, a]));
    this.valid = true;
    this.validateSoon = debounce(() => this.validate(), 300);
  }

  draw() {
    this.status = h("span", { class: "status-line", id: "rules-status", role: "status" }, t("rules.unchanged"));
    this.comment = h("input", { id: "rules-comment", placeholder: t("rules.comment_placeholder"), size: 40 });
    this.saveButton = h("button", { class: "primary", id: "rules-save", onclick: () => this.save() }, t("rules.save"));
    this.general = h("div", { id: "rules-errors" });
    this.form = h("div", { id: "rules-form" });
    this.diff = h("div", { id: "rules-diff" });
    this.sim = h("section", { id: "simulator", "aria-labelledby": "h-sim" });
    this.history = h("section", { id: "versions", "aria-labelledby": "h-versions" });
    this.tierBox = h("section", { id: "tiers", "aria-labelledby": "h-tiers" });
    replace(this.root,
      h("h1", {}, t("rules.title")),
      h("p", { class: "muted" }, t("rules.live_version", { n: this.live.version })),
      h("div", { class: "actions card" }, this.saveButton, field(t("rules.comment"), this.comment), this.status,
        h("button", { type: "button", onclick: () => this.reset() }, t("rules.discard"))),
      this.general, this.form,
      h("h2", {}, t("rules.diff")), this.diff, this.tierBox,
      this.sim, this.history);
    this.drawForm();
    new TierEditor(this.tierBox, this.tierInfo, () => this.reload()).draw();
    this.drawSimulator();
    this.drawVersions();
  }

  changed() {
    this.dirty = true;
    this.saveButton.disabled = true;  // until the hub has checked this draft
    this.status.className = "status-line";
    this.status.textContent = t("rules.checking");
    this.validateSoon();
  }

  // Re-render after a structural change (add, move, delete), then re-check.
  restructure(focusId) {
    this.drawForm();
    this.changed();
    if (focusId) document.getElementById(focusId)?.focus();
  }

  async validate() {
    const checked = JSON.stringify(this.draft);
    let res;
    try { res = await post(`${BASE}/rules/validate`, cleaned(this.draft)); }
    catch (err) { showErrors(this.form, errorsOf(err), this.general); this.valid = false; this.saveButton.disabled = true; return; }
    if (checked !== JSON.stringify(this.draft)) return;  // edited meanwhile: a newer check follows
    this.valid = res.valid;
    const misplaced = showErrors(this.form, res.errors, this.general);
    this.saveButton.disabled = !res.valid || !this.dirty;
    this.status.className = `status-line ${res.valid ? "good" : "bad"}`;
    this.status.textContent = res.valid ? (res.diff ? t("rules.valid_changed") : t("rules.unchanged")) : t("rules.invalid", { n: res.errors.length });
    if (!res.valid && !misplaced) announce(res.errors[0].message);
    replace(this.diff, diffView(res.diff));
  }

  async save() {
    if (!this.valid) return;
    this.saveButton.disabled = true;
    try {
      await fetchSave(cleaned(this.draft), this.comment.value);
      toast(t("rules.saved"));
      await this.reload();
    } catch (err) {
      showErrors(this.form, errorsOf(err), this.general);
      this.status.className = "status-line bad";
      this.status.textContent = t("rules.not_saved");
    }
  }

  async reload() {
    const [live, versions, tiers] = await Promise.all([get(`${BASE}/rules`), get(`${BASE}/rules/versions`), get("/api/v1/tiers")]);
    this.tierInfo = tiers;
    this.tiers = tiers.items;
    this.live = live;
    this.draft = structuredClone(live.rules);
    this.versions = versions.items;
    this.dirty = false;
    this.draw();
  }

  reset() { this.draft = structuredClone(this.live.rules); this.dirty = false; this.draw(); }

  drawForm() {
    const rules = this.draft.rules, queues = Object.keys(this.draft.queues);
    replace(this.form,
      h("section", { "aria-labelledby": "h-rules" },
        h("h2", { id: "h-rules" }, t("rules.rules")),
        h("p", { class: "muted" }, t("rules.rules_hint")),
        rules.map((rule, i) => this.ruleCard(rule, i, rules.length, queues)),
        h("button", { type: "button", id: "add-rule", onclick: () => {
          const at = Math.max(0, rules.length - 1);  // before the catch-all
          rules.splice(at, 0, { name: t("rules.new_rule"), when: "", targets: [{ queue: queues[0] }] });
          this.restructure(`rule-${at}-name`);
        } }, t("rules.add_rule"))),
      h("section", { "aria-labelledby": "h-queues" },
        h("h2", { id: "h-queues" }, t("rules.queues")),
        Object.entries(this.draft.queues).map(([name, spec]) => this.queueCard(name, spec || {})),
        h("button", { type: "button", id: "add-queue", onclick: () => {
          let name = "queue", n = 1;
          while (this.draft.queues[name]) name = `queue_${++n}`;
          this.draft.queues[name] = { hours: "always" };
          this.restructure(`queue-${name}`);
        } }, t("rules.add_queue"))),
      this.slaTable());
  }

  ruleCard(rule, i, count, queues) {
    const p = `rules[${i}]`, move = (to) => {
      const [item] = this.draft.rules.splice(i, 1);
      this.draft.rules.splice(to, 0, item);
      this.restructure(`rule-${to}-name`);
    };
    rule.targets ||= [];
    rule.actions ||= {};
    return h("fieldset", { class: "rule", id: `rule-${i}` },
      h("legend", {}, t("rules.rule_n", { n: i + 1 })),
      h("div", { class: "grid" },
        field(t("rules.name"), input(rule.name, (v) => { rule.name = v; this.changed(); }, { id: `rule-${i}-name` }), { path: `${p}.name` }),
        field(t("rules.set_department"), input(rule.actions.set_department, (v) => { rule.actions.set_department = v; this.changed(); }, { list: "departments" })),
        field(t("rules.tag"), input(rule.actions.tag, (v) => { rule.actions.tag = v; this.changed(); }))),
      field(t("rules.when"), input(rule.when, (v) => { rule.when = v; this.changed(); }, {
        class: "expr", id: `rule-${i}-when`, spellcheck: "false", autocomplete: "off",
        placeholder: i === count - 1 ? t("rules.catch_all") : 'customer.tier == "platinum" and channel == "sms"',
      }), { path: `${p}.when`, hint: t("rules.when_hint") }),
      h("table", { class: "list targets", "aria-label": t("rules.targets") },
        h("tbody", {}, rule.targets.map((target, j) => {
          const tp = `${p}.targets[${j}]`;
          return h("tr", {},
            h("td", {}, field(t("rules.queue"), select(queues.map((q) => [q, q]).concat(queues.includes(target.queue) ? [] : [[target.queue ?? "", target.queue ?? "–"]]),
              target.queue, (v) => { target.queue = v; this.changed(); }, { id: `rule-${i}-target-${j}-queue` }), { path: `${tp}.queue` })),
            h("td", {}, field(t("rules.agents"), input(target.agents, (v) => { if (v.trim()) target.agents = v; else delete target.agents; this.changed(); },
              { class: "expr", spellcheck: "false", placeholder: '"de" in languages', id: `rule-${i}-target-${j}-agents` }), { path: `${tp}.agents` })),
            h("td", {}, field(t("rules.timeout"), numberInput(target.timeout, (v) => { setOrDrop(target, "timeout", v); this.changed(); }, { min: 1, class: "timeout" }))),
            h("td", {}, field(t("rules.priority"), numberInput(target.priority, (v) => { setOrDrop(target, "priority", v); this.changed(); }, { class: "priority" }))),
            h("td", {}, h("button", { type: "button", "aria-label": t("rules.remove_target"), onclick: () => { rule.targets.splice(j, 1); this.restructure(); } }, "✕")));
        }))),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => { rule.targets.push({ queue: queues[0] }); this.restructure(); } }, t("rules.add_target")),
        h("button", { type: "button", disabled: i === 0, onclick: () => move(i - 1) }, t("rules.up")),
        h("button", { type: "button", disabled: i === count - 1, onclick: () => move(i + 1) }, t("rules.down")),
        h("button", { type: "button", class: "link", onclick: () => { this.draft.rules.splice(i, 1); this.restructure("add-rule"); } }, t("rules.delete_rule"))),
      h("datalist", { id: "departments" }, ["service", "sales", "marketing", "rnd"].map((d) => h("option", { value: d }))));
  }

  queueCard(name, spec) {
    this.draft.queues[name] = spec;
    const custom = spec.hours && spec.hours !== "always";
    const hours = custom ? spec.hours : {};
    const hoursBox = h("div", { class: "grid", hidden: !custom },
      field(t("rules.timezone"), input(hours.timezone, (v) => { hours.timezone = v; this.changed(); }, { placeholder: "Europe/Berlin" })),
      field(t("rules.country"), input(hours.country, (v) => { setOrDrop(hours, "country", v || undefined); this.changed(); }, { placeholder: "DE", size: 4 }), { hint: t("rules.holidays_hint") }),
      field(t("rules.subdivision"), input(hours.subdivision, (v) => { setOrDrop(hours, "subdivision", v || undefined); this.changed(); }, { placeholder: "BY", size: 4 })),
      field(t("rules.open"), h("textarea", { rows: 3, class: "expr", placeholder: "mon-fri: 08:00-18:00\nsat: 09:00-13:00",
        oninput: (e) => { hours.open = windowsOf(e.target.value); this.changed(); } }, windowsText(hours.open))));
    return h("fieldset", { class: "queue" },
      h("legend", {}, name),
      h("div", { class: "grid" },
        field(t("rules.queue_name"), h("input", { value: name, id: `queue-${name}`, pattern: "[A-Za-z0-9_-]+",
          onchange: (e) => this.renameQueue(name, e.target.value.trim()) })),
        field(t("rules.reservation_timeout"), numberInput(spec.reservation_timeout, (v) => { setOrDrop(spec, "reservation_timeout", v); this.changed(); }, { min: 1 })),
        field(t("rules.out_of_hours_reply"), input(spec.out_of_hours_reply, (v) => { setOrDrop(spec, "out_of_hours_reply", v || undefined); this.changed(); })),
        checkbox(t("rules.auto_accept"), spec.auto_accept, (v) => { setOrDrop(spec, "auto_accept", v || undefined); this.changed(); }),
        checkbox(t("rules.always_open"), !custom, (always) => {
          spec.hours = always ? "always" : { timezone: "Europe/Berlin", open: { "mon-fri": ["08:00-18:00"] } };
          this.restructure(`queue-${name}`);
        })),
      hoursBox,
      h("button", { type: "button", class: "link", onclick: () => { delete this.draft.queues[name]; this.restructure("add-queue"); } }, t("rules.delete_queue")));
  }

  renameQueue(from, to) {
    if (!to || to === from || this.draft.queues[to]) return this.restructure(`queue-${from}`);
    const queues = {};
    for (const [n, spec] of Object.entries(this.draft.queues)) queues[n === from ? to : n] = spec;
    this.draft.queues = queues;
    for (const rule of this.draft.rules) for (const target of rule.targets || []) if (target.queue === from) target.queue = to;
    this.restructure(`queue-${to}`);
  }

  slaTable() {
    const cols = ["default", ...CHANNELS];
    return h("section", { "aria-labelledby": "h-sla" },
      h("h2", { id: "h-sla" }, t("rules.sla")),
      h("p", { class: "muted" }, t("rules.sla_hint")),
      h("table", { class: "list sla" },
        h("thead", {}, h("tr", {}, h("th", {}, t("rules.tier")), cols.map((c) => h("th", {}, c === "default" ? t("rules.default") : c)))),
        h("tbody", {}, this.tiers.map((tier) => {
          const row = this.draft.sla?.[tier.name] || {};
          return h("tr", {},
            h("th", {}, tier.name, h("div", { class: "muted expr" }, tier.when ?? t("rules.catch_all"))),
            cols.map((c) => h("td", {}, ...this.slaCell(row, tier.name, c))));
        }))));
  }

  slaCell(row, tier, channel) {
    const cell = row[channel];
    const first = typeof cell === "object" && cell ? cell.first_response : cell;
    const next = typeof cell === "object" && cell ? cell.next_response : undefined;
    const write = (f, n) => {
      this.draft.sla ||= {};
      this.draft.sla[tier] = row;  // a tier's targets exist once one is set
      if (f === undefined && n === undefined) delete row[channel];
      else if (n === undefined) row[channel] = f;
      else row[channel] = { first_response: f, next_response: n };
      if (!Object.keys(row).length) delete this.draft.sla[tier];
      this.changed();
    };
    let f = first, n = next;
    return [
      numberInput(first, (v) => { f = v; write(f, n); }, { min: 1, "aria-label": t("rules.sla_first", { tier, channel }), title: t("rules.first") }),
      numberInput(next, (v) => { n = v; write(f, n); }, { min: 1, "aria-label": t("rules.sla_next", { tier, channel }), title: t("rules.next"), placeholder: t("rules.next") }),
    ];
  }

  drawSimulator() {
    const q = { customer: { tier: this.tiers[0]?.name || "standard" }, channel: "sms", against: "draft" };
    const out = h("div", { id: "sim-result", "aria-live": "polite" });
    const run = async () => {
      const customer = q.customer.id ? { id: q.customer.id } : { ...q.customer };
      delete customer.id;
      const body = { customer: q.customer.id ? { id: q.customer.id } : customer, channel: q.channel, text: q.text || "",
        subject: q.subject || "", language: q.language || "", department: q.department || "" };
      if (q.against === "draft") body.rules = JSON.stringify(cleaned(this.draft));
      try { replace(out, this.simResult(await post(`${BASE}/simulate`, body), q.against)); }
      catch (err) { replace(out, h("p", { class: "field-error", role: "alert" }, errorsOf(err).map((e) => e.message).join("; "))); }
    };
    replace(this.sim,
      h("h2", { id: "h-sim" }, t("sim.title")),
      h("form", { class: "card", id: "sim-form", onsubmit: (e) => { e.preventDefault(); run(); } },
        h("div", { class: "grid" },
          field(t("sim.customer_id"), input("", (v) => { q.customer.id = v.trim() || undefined; }, { id: "sim-customer", placeholder: t("sim.customer_id_hint") })),
          field(t("sim.tier"), select(this.tiers.map((x) => [x.name, x.name]), q.customer.tier, (v) => { q.customer.tier = v; }, { id: "sim-tier" })),
          checkbox(t("sim.key_account"), false, (v) => { q.customer.key_account = v; }),
          field(t("sim.channel"), select(CHANNELS.map((c) => [c, c]), q.channel, (v) => { q.channel = v; }, { id: "sim-channel" })),
          field(t("sim.language"), input("", (v) => { q.language = v; }, { id: "sim-language", placeholder: "de" })),
          field(t("sim.department"), input("", (v) => { q.department = v; }, { list: "departments" })),
          field(t("sim.subject"), input("", (v) => { q.subject = v; }, { id: "sim-subject" })),
          field(t("sim.text"), input("", (v) => { q.text = v; }, { id: "sim-text" })),
          field(t("sim.against"), select([["draft", t("sim.draft")], ["live", t("sim.live")]], q.against, (v) => { q.against = v; }, { id: "sim-against" }))),
        h("button", { class: "primary", type: "submit", id: "sim-run" }, t("sim.run"))),
      out);
  }

  simResult(res, against) {
    const d = res.decision, name = (id) => this.agents.get(id)?.name || id;
    const target = res.targets[res.target_index] || {};
    return h("div", { class: "card", id: "sim-decision" },
      h("p", {}, t("sim.matched", { rule: res.rule, version: against === "draft" ? t("sim.draft") : t("sim.version", { n: res.rules_version }) })),
      h("p", {}, t("sim.queue", { queue: target.queue || d.queue || "–" }), " · ",
        res.queue_open ? t("sim.open") : t("sim.closed"), " · ", t("sim.priority", { p: res.priority })),
      h("p", {}, t("sim.decision"), " ", h("strong", {}, d.type), d.agent_id ? ` → ${name(d.agent_id)}` : ""),
      h("p", {}, t("sim.eligible"), " ", res.eligible.length ? res.eligible.map(name).join(", ") : t("sim.nobody")),
      h("details", {}, h("summary", {}, t("sim.trace")), h("pre", { class: "trace" }, JSON.stringify(res, null, 2))));
  }

  drawVersions() {
    const detail = h("div", { id: "version-detail" });
    replace(this.history,
      h("h2", { id: "h-versions" }, t("rules.versions")),
      h("table", { class: "list" },
        h("thead", {}, h("tr", {}, [t("rules.version"), t("rules.author"), t("rules.when_saved"), t("rules.comment"), ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, this.versions.map((v) => h("tr", { id: `version-${v.version}` },
          h("td", {}, String(v.version), v.live ? h("span", { class: "badge" }, t("rules.live")) : null),
          h("td", {}, v.author), h("td", {}, when(v.created_at)), h("td", {}, v.comment || ""),
          h("td", {},
            h("button", { type: "button", onclick: async () => {
              const one = await get(`${BASE}/rules/versions/${v.version}`);
              replace(detail, h("h3", {}, t("rules.changes_in", { n: v.version })), diffView(one.diff));
            } }, t("rules.show_changes")),
            v.live ? null : h("button", { type: "button", class: "rollback", onclick: async () => {
              if (!confirm(t("rules.rollback_confirm", { n: v.version }))) return;
              await post(`${BASE}/rules/rollback`, { version: v.version });
              toast(t("rules.rolled_back", { n: v.version }));
              await this.reload();
            } }, t("rules.rollback"))))))),
      detail);
  }
}

function setOrDrop(obj, key, value) {
  if (value === undefined || value === null || Number.isNaN(value)) delete obj[key];
  else obj[key] = value;
}

async function fetchSave(doc, comment) {
  return put(`${BASE}/rules${comment ? `?comment=${encodeURIComponent(comment)}` : ""}`, doc);
}

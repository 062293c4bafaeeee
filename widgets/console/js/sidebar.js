// The customer beside the conversation: identities, tier and why, key account manager,
// contracts, payment terms, revenue, consent, recent conversations, and what may be done
// to the record: fields edited in place, identities added and removed, consent recorded
// and withdrawn, the tier pinned, merges made and undone, the data exported or erased.
// Each action shows only to the roles the API allows it (the API decides in the end).
import { get, patch, post, put, del } from "./api.js";
import { h, replace, svg, toast, announce } from "./dom.js";
import { t, formatTime, formatNumber, language } from "./i18n.js";
import { agentName, atLeast, isSupervisor, state } from "./state.js";
import { channelBadge, tierBadge } from "./inbox.js";
import { channelName, eventLabel, identityKind, purposeName, statusName } from "./events.js";
import { modal } from "./modal.js";
import { levelBadge, reasonLine } from "./health.js";
import { startDialog } from "./outreach.js";
import { approvalsSection } from "./approvals.js";

// per customer: when this agent had the panel open before this page was loaded
const previousVisit = new Map();
const IDENTITY_KINDS = ["email", "phone", "fax", "chat_visitor", "external"];
const CONSENT_CHANNELS = ["email", "sms", "whatsapp", "voice", "fax", "chat", "api"];
const PURPOSES = ["service", "marketing"];

export class Sidebar {
  constructor(customer, { onSaved, timeline = [], onGone = () => {} }) {
    this.customer = customer;
    this.onSaved = onSaved;
    this.timeline = timeline;
    this.onGone = onGone;
    this.el = h("aside", { class: "sidebar", "aria-label": t("side.customer") }, this.content());
    this.loadRevenue();
    this.loadHealth();
  }

  content() {
    const c = this.customer;
    const rows = [
      this.editable("name", c.name),
      this.editable("organisation", c.organisation),
      this.editable("language", c.language),
      this.editable("time_zone", c.time_zone), // quiet hours of the contact policy are kept in it
      this.row("tier", [tierBadge(c.tier), atLeast("admin")
        ? [" ", h("button", { type: "button", class: "link", id: "cust-pin", onclick: () => this.pinDialog() }, t("cust.pin_tier"))] : null]),
      this.row("tier_reason", reason(c.tier_reason)),
      this.row("key_account", t(c.key_account ? "common.yes" : "common.no")),
      this.row("kam", c.key_account_manager_id ? agentName(c.key_account_manager_id) : t("common.none")),
      this.editable("payment_terms", c.payment_terms, !isSupervisor()),
      this.row("revenue", [revenue(c.revenue), this.revenueTrend = h("div", { class: "revenue-trend", id: "revenue-trend" })]),
      this.row("health", this.healthEl = h("div", { class: "health", id: "customer-health" }, h("span", { class: "muted" }, "…"))),
    ];
    return [
      h("h2", {}, t("side.customer")),
      this.changedSince(),
      h("dl", { class: "fields" }, rows),
      h("h3", {}, t("side.identities")),
      h("ul", { class: "plain identities" }, c.identities.map((i) => h("li", {},
        h("span", { class: "muted" }, identityKind(i.kind)), " ", h("span", { class: "value" }, i.value),
        atLeast("supervisor") ? [" ", h("button", { type: "button", class: "link remove-identity",
          "aria-label": t("cust.remove_identity", { value: i.value }), onclick: () => this.removeIdentity(i) }, "×")] : null))),
      this.identityForm(),
      h("h3", {}, t("side.contracts")),
      c.contracts.length
        ? h("ul", { class: "plain contracts", id: "contracts" }, c.contracts.map((k) => this.contract(k)))
        : h("p", { class: "muted" }, t("common.none")),
      isSupervisor() ? this.contractForm() : null,
      c.key_account ? approvalsSection(c) : null,
      h("h3", {}, t("side.consent")),
      c.consent.length
        ? h("ul", { class: "plain consents" }, c.consent.map((x) => h("li", {}, `${channelName(x.channel)} · ${purposeName(x.purpose)}: `,
          h("strong", { class: x.granted ? "ok" : "late" }, t(x.granted ? "side.granted" : "side.withdrawn")), " ",
          h("button", { type: "button", class: "link consent-toggle",
            "aria-label": t(x.granted ? "cust.withdraw_one" : "cust.regrant_one", { channel: channelName(x.channel), purpose: purposeName(x.purpose) }),
            onclick: () => this.consent(x.channel, x.purpose, !x.granted) }, t(x.granted ? "cust.withdraw" : "cust.regrant")))))
        : h("p", { class: "muted" }, t("common.none")),
      this.consentForm(),
      h("h3", {}, t("side.recent")),
      h("ul", { class: "plain" }, c.recent_conversations.map((r) => h("li", {},
        h("a", { href: `#/c/${r.id}` }, channelBadge(r.channel), " ", formatTime(r.last_message_at)), " ",
        h("span", { class: "muted" }, statusName(r.status))))),
      this.merges(),
      this.recordActions(),
    ];
  }

  row(key, value) {
    return [h("dt", {}, t(`side.${key}`)), h("dd", {}, value)];
  }

  editable(key, value, readOnly = false) {
    const dd = h("dd", {}, h("span", { class: "value" }, value || t("common.none")));
    if (!readOnly) {
      dd.append(" ", h("button", { type: "button", class: "link", "aria-label": `${t("common.edit")}: ${t(`side.${key}`)}`,
        onclick: () => this.edit(dd, key, value) }, t("common.edit")));
    }
    return [h("dt", {}, t(`side.${key}`)), dd];
  }

  edit(dd, key, value) {
    const input = h("input", { value: value || "", "aria-label": t(`side.${key}`), name: key });
    const form = h("form", { class: "inline-edit", onsubmit: (e) => {
      e.preventDefault();
      this.change(() => patch(`/api/v1/customers/${this.customer.id}`, { [key]: input.value.trim() || null }));
    } }, input, h("button", { type: "submit" }, t("common.save")),
      h("button", { type: "button", onclick: () => this.rerender() }, t("common.cancel")));
    replace(dd, form);
    input.focus();
  }

  rerender() { replace(this.el, this.content()); this.loadRevenue(); this.loadHealth(); }

  // What happened to this customer since this agent last had the panel open (this
  // browser remembers when): tier, health, contracts, revenue, merges, consent.
  changedSince() {
    const key = `contacthub.seen.${state.me?.id}.${this.customer.id}`;
    if (!previousVisit.has(key)) { // once per page: the panel is drawn again on every change
      previousVisit.set(key, localStorage.getItem(key));
      localStorage.setItem(key, new Date().toISOString());
    }
    const last = previousVisit.get(key);
    if (!last) return null;
    const since = new Date(last);
    const news = this.timeline.filter((i) => i.type === "event" && new Date(i.at) > since
      && !String(i.action).startsWith("conversation.") && i.action !== "message.replied");
    if (!news.length) return null;
    return h("section", { class: "changed-since", id: "changed-since", "aria-label": t("side.changed_since", { at: formatTime(last) }) },
      h("h3", {}, t("side.changed_since", { at: formatTime(last) })),
      h("ul", { class: "plain" }, news.slice(0, 8).map((i) => h("li", {}, eventLabel(i.action, i.data || {}), " ", h("span", { class: "muted" }, formatTime(i.at))))));
  }

  // The score, its level, what it lost in a week, and each line of its explanation.
  async loadHealth() {
    const target = this.healthEl;
    let health;
    try { health = await get(`/api/v1/customers/${this.customer.id}/health`); } catch { replace(target, t("common.none")); return; }
    replace(target, levelBadge(health.level, health.score),
      health.fall ? h("span", { class: "late" }, ` ${t("health.fall", { n: health.fall })}`) : null,
      health.lines.length ? h("ul", { class: "plain reasons" }, health.lines.map(reasonLine)) : h("p", { class: "muted" }, t("health.no_reasons")));
  }

  // The last 24 months as a sparkline, with the trend (when the ERP sends revenue periods).
  async loadRevenue() {
    const target = this.revenueTrend;
    let history;
    try { history = await get(`/api/v1/customers/${this.customer.id}/revenue`); } catch { return; }
    if (!history.months.length) return;
    const values = history.months.map((m) => m.amount);
    const top = Math.max(...values, 0), bottom = Math.min(...values, 0), span = top - bottom || 1;
    const W = 120, H = 24, step = W / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(H - ((v - bottom) / span) * H).toFixed(1)}`).join(" ");
    const first = history.months[0].month, last = history.months[history.months.length - 1].month;
    const label = t("side.revenue_months", { from: first, to: last, currency: history.currency });
    const trend = history.trend == null ? null
      : h("span", { class: history.trend < 0 ? "late" : "ok" }, t("side.revenue_trend", { pct: formatNumber(history.trend, { style: "percent", signDisplay: "always", maximumFractionDigits: 0 }) }));
    replace(target,
      svg("svg", { class: "sparkline", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
        svg("title", {}, `${label}: ${values.map((v) => formatNumber(v, { maximumFractionDigits: 0 })).join(", ")}`),
        svg("polyline", { points, fill: "none", stroke: "currentColor", "stroke-width": 1.5 })),
      " ", trend);
  }

  // Run a call that answers with the record; show it again, or say what went wrong.
  async change(call, done) {
    try {
      const record = await call();
      if (record && record.id === this.customer.id) this.customer = record;
      this.rerender();
      if (done) { announce(done); toast(done); }
      this.onSaved();
      return true;
    } catch (err) {
      toast(t("error.generic", { detail: err.message }), "error");
      return false;
    }
  }

  contract(k) {
    const period = [k.starts_on, k.ends_on].map((d) => (d ? formatDay(d) : "…")).join(" – ");
    const value = k.value != null
      ? ` · ${formatNumber(k.value, { style: "currency", currency: k.currency, maximumFractionDigits: 0 })}${k.billing_interval ? ` / ${t(`contract.${k.billing_interval}`)}` : ""}` : "";
    let notice = null;
    if (k.days_to_notice != null) {
      notice = h("strong", { class: k.days_to_notice < 0 ? "late" : k.days_to_notice <= 30 ? "soon" : "ok" },
        k.days_to_notice < 0 ? t("contract.notice_passed", { date: formatDay(k.notice_by) })
          : t("contract.notice_in", { days: k.days_to_notice, date: formatDay(k.notice_by) }));
    }
    return h("li", { "data-contract": k.id },
      h("span", { class: "value" }, k.name), " ", h("span", { class: "muted" }, `${t(`contract.${k.status}`)} · ${period}${value}`),
      notice ? [h("br"), notice] : null,
      isSupervisor() ? [" ", h("button", { type: "button", class: "link remove-contract", "aria-label": t("contract.remove", { name: k.name }),
        onclick: () => this.removeContract(k) }, "×")] : null);
  }

  contractForm() {
    const input = (name, attrs) => h("input", { name, id: `contract-${name}`, "aria-label": t(`contract.${name}`), placeholder: t(`contract.${name}`), ...attrs });
    const fields = {
      name: input("name", { required: true, maxlength: 300 }),
      starts_on: input("starts_on", { type: "date" }),
      ends_on: input("ends_on", { type: "date" }),
      notice_days: input("notice_days", { type: "number", min: 0, max: 3650, step: 1 }),
      value: input("value", { type: "number", min: 0, step: "0.01" }),
      currency: input("currency", { maxlength: 3, pattern: "[A-Z]{3}", value: "EUR" }),
    };
    const interval = h("select", { name: "billing_interval", id: "contract-billing_interval", "aria-label": t("contract.billing_interval") },
      ["month", "quarter", "year", "once"].map((i) => h("option", { value: i }, t(`contract.${i}`))));
    return h("form", { class: "side-form", id: "contract-form", onsubmit: (e) => {
      e.preventDefault();
      const body = { name: fields.name.value.trim() };
      for (const key of ["starts_on", "ends_on"]) if (fields[key].value) body[key] = fields[key].value;
      if (fields.notice_days.value) body.notice_days = Number.parseInt(fields.notice_days.value, 10);
      if (fields.value.value) {
        Object.assign(body, { value: Number(fields.value.value), currency: fields.currency.value.trim(), billing_interval: interval.value });
      }
      this.change(async () => {
        await post(`/api/v1/customers/${this.customer.id}/contracts`, body);
        return get(`/api/v1/customers/${this.customer.id}`);
      }, t("contract.added"));
    } }, Object.values(fields), interval, h("button", { type: "submit", id: "contract-add" }, t("contract.add")));
  }

  removeContract(k) {
    if (!confirm(t("contract.remove_confirm", { name: k.name }))) return;
    this.change(async () => {
      await del(`/api/v1/contracts/${k.id}`);
      return get(`/api/v1/customers/${this.customer.id}`);
    }, t("contract.removed"));
  }

  identityForm() {
    const kind = h("select", { name: "kind", id: "identity-kind", "aria-label": t("cust.identity_kind") },
      IDENTITY_KINDS.map((k) => h("option", { value: k }, identityKind(k))));
    const value = h("input", { name: "value", id: "identity-value", required: true, maxlength: 320, "aria-label": t("cust.identity_value"),
      placeholder: t("cust.identity_value") });
    return h("form", { class: "side-form", id: "identity-form", onsubmit: (e) => {
      e.preventDefault();
      this.change(() => post(`/api/v1/customers/${this.customer.id}/identities`, { kind: kind.value, value: value.value.trim() }),
        t("cust.identity_added"));
    } }, kind, value, h("button", { type: "submit" }, t("cust.add_identity")));
  }

  async removeIdentity(identity) {
    await this.change(async () => {
      await del(`/api/v1/customers/${this.customer.id}/identities/${identity.id}`);
      return get(`/api/v1/customers/${this.customer.id}`);
    }, t("cust.identity_removed"));
  }

  consentForm() {
    const channel = h("select", { name: "channel", id: "consent-channel", "aria-label": t("cust.consent_channel") },
      CONSENT_CHANNELS.map((c) => h("option", { value: c }, channelName(c))));
    const purpose = h("select", { name: "purpose", id: "consent-purpose", "aria-label": t("cust.consent_purpose") },
      PURPOSES.map((p) => h("option", { value: p }, purposeName(p))));
    return h("div", { class: "side-form", role: "group", "aria-label": t("cust.consent_record") }, channel, purpose,
      h("button", { type: "button", id: "consent-grant", onclick: () => this.consent(channel.value, purpose.value, true) }, t("cust.grant")),
      h("button", { type: "button", id: "consent-withdraw", onclick: () => this.consent(channel.value, purpose.value, false) }, t("cust.withdraw")));
  }

  consent(channel, purpose, granted) {
    return this.change(() => put(`/api/v1/customers/${this.customer.id}/consent`, { channel, purpose, granted, source: "agent" }),
      t("cust.consent_saved"));
  }

  async pinDialog() {
    let tiers = [];
    try { tiers = (await get("/api/v1/tiers")).items.map((x) => x.name); } catch { tiers = [this.customer.tier]; }
    const pinned = this.customer.tier_pinned ? this.customer.tier : "";
    modal(t("cust.pin_title"), [
      h("label", {}, t("cust.tier"), h("select", { name: "tier", id: "pin-tier" },
        h("option", { value: "" }, t("cust.pin_auto")),
        tiers.map((name) => h("option", { value: name, selected: name === pinned }, name)))),
      h("label", {}, t("cust.pin_reason"), h("input", { name: "reason", maxlength: 500 })),
    ], t("cust.pin_submit"), (data) => this.change(() => put(`/api/v1/customers/${this.customer.id}/tier`,
      { tier: data.get("tier") || null, reason: data.get("reason") || null }), t("cust.pinned")));
  }

  // customer.merged events on the timeline that were not undone since
  merges() {
    if (!atLeast("supervisor")) return null;
    const undone = new Set(this.timeline.filter((e) => e.action === "customer.unmerged").map((e) => String(e.subject_id)));
    const open = this.timeline.filter((e) => e.type === "event" && e.action === "customer.merged" && !undone.has(String(e.id)));
    if (!open.length) return null;
    return [h("h3", {}, t("cust.merges")), h("ul", { class: "plain merges" }, open.map((e) => h("li", {},
      t("cust.merge_of", { other: (e.data?.other_id || "").slice(0, 8), at: formatTime(e.at) }), " ",
      h("button", { type: "button", class: "link unmerge", onclick: () => this.change(async () => {
        await post(`/api/v1/customers/${this.customer.id}/unmerge`, { merge_event_id: e.id });
        return get(`/api/v1/customers/${this.customer.id}`);
      }, t("cust.unmerged")) }, t("cust.unmerge")))))];
  }

  recordActions() {
    const id = this.customer.id;
    const items = [h("button", { type: "button", id: "cust-start", class: "primary",
      onclick: () => startDialog(this.customer, { onStarted: (c) => { location.hash = `#/c/${c.id}`; } }) }, t("out.start"))];
    if (atLeast("supervisor")) {
      items.push(h("button", { type: "button", id: "cust-merge", onclick: () => this.mergeDialog() }, t("cust.merge")));
      items.push(h("a", { href: `/api/v1/customers/${id}/export`, download: `customer-${id}.json`, id: "cust-export", class: "button-like" }, t("cust.export")));
    }
    if (atLeast("admin")) items.push(h("button", { type: "button", id: "cust-erase", class: "danger", onclick: () => this.eraseDialog() }, t("cust.erase")));
    return [h("h3", {}, t("cust.actions")), h("div", { class: "record-actions" }, items)];
  }

  mergeDialog() {
    const results = h("ul", { class: "plain merge-results", "aria-live": "polite" });
    const query = h("input", { type: "search", name: "q", id: "merge-query", "aria-label": t("cust.merge_search"), placeholder: t("cust.merge_search") });
    const search = async () => {
      const q = query.value.trim();
      if (!q) return;
      let found = [];
      try { found = (await get(`/api/v1/customers?q=${encodeURIComponent(q)}`)).items.filter((c) => c.id !== this.customer.id); }
      catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
      replace(results, found.length ? found.map((c, n) => h("li", {}, h("label", { class: "inline" },
        h("input", { type: "radio", name: "other_id", value: c.id, required: true, checked: n === 0 }),
        `${c.name || t("common.none")}${c.organisation ? ` · ${c.organisation}` : ""} `, tierBadge(c.tier))))
        : h("li", { class: "muted" }, t("cust.merge_none")));
    };
    query.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); search(); } });
    modal(t("cust.merge_title"), [
      h("div", { class: "inline-edit" }, query, h("button", { type: "button", id: "merge-search", onclick: search }, t("cust.search"))),
      results,
    ], t("cust.merge_submit"), (data) => {
      const other = data.get("other_id");
      if (!other) return null;
      return this.change(() => post(`/api/v1/customers/${this.customer.id}/merge`, { other_id: other }), t("cust.merged"));
    });
  }

  eraseDialog() {
    const id = this.customer.id;
    const word = t("cust.erase_word");
    const typed = h("input", { name: "confirm", id: "erase-confirm", autocomplete: "off", required: true });
    const dlg = modal(t("cust.erase_title"), [
      h("p", { class: "late", role: "alert" }, t("cust.erase_warning")),
      h("label", {}, t("cust.erase_type", { word }), typed),
    ], t("cust.erase_submit"), async () => {
      try {
        await del(`/api/v1/customers/${id}?confirm=${encodeURIComponent(id)}`);
        toast(t("cust.erased"));
        announce(t("cust.erased"));
        this.onGone();
      } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
    }, { danger: true });
    const submit = dlg.querySelector("button[type=submit]");
    submit.id = "erase-submit";
    submit.disabled = true;
    typed.addEventListener("input", () => { submit.disabled = typed.value.trim() !== word; });
  }
}

function reason(why) {
  if (!why) return t("common.none");
  if (why.pinned_by) {
    const who = String(why.pinned_by);
    return t("side.pinned_by", { who: who.startsWith("agent:") ? agentName(who.slice(6)) : who });
  }
  return why.rule ? `${why.rule}` : JSON.stringify(why);
}

function formatDay(day) {
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
}

function revenue(values) {
  if (!values) return t("common.none");
  return Object.entries(values).map(([k, v]) =>
    `${k}: ${formatNumber(Number(v.amount), { style: "currency", currency: v.currency || "EUR", maximumFractionDigits: 0 })}`).join(", ");
}

export { revenue };

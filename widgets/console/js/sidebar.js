// The customer beside the conversation: identities, tier and why, key account manager,
// contracts, payment terms, revenue, consent, recent conversations. Fields the agent's
// role may change are edited in place.
import { patch } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, formatTime, formatNumber } from "./i18n.js";
import { agentName, isSupervisor } from "./state.js";
import { channelBadge, tierBadge } from "./inbox.js";


export class Sidebar {
  constructor(customer, { onSaved }) {
    this.customer = customer;
    this.onSaved = onSaved;
    this.el = h("aside", { class: "sidebar", "aria-label": t("side.customer") }, this.content());
  }

  content() {
    const c = this.customer;
    const rows = [
      this.editable("name", c.name),
      this.editable("organisation", c.organisation),
      this.editable("language", c.language),
      this.row("tier", tierBadge(c.tier)),
      this.row("tier_reason", reason(c.tier_reason)),
      this.row("key_account", t(c.key_account ? "common.yes" : "common.no")),
      this.row("kam", c.key_account_manager_id ? agentName(c.key_account_manager_id) : t("common.none")),
      this.row("contracts", (c.contracts || []).join(", ") || t("common.none")),
      this.editable("payment_terms", c.payment_terms, !isSupervisor()),
      this.row("revenue", revenue(c.revenue)),
    ];
    return [
      h("h2", {}, t("side.customer")),
      h("dl", { class: "fields" }, rows),
      h("h3", {}, t("side.identities")),
      h("ul", { class: "plain" }, c.identities.map((i) => h("li", {}, h("span", { class: "muted" }, i.kind), " ", i.value))),
      h("h3", {}, t("side.consent")),
      c.consent.length
        ? h("ul", { class: "plain" }, c.consent.map((x) => h("li", {}, `${t("channel." + x.channel)} · ${x.purpose}: `,
          h("strong", { class: x.granted ? "ok" : "late" }, t(x.granted ? "side.granted" : "side.withdrawn")))))
        : h("p", { class: "muted" }, t("common.none")),
      h("h3", {}, t("side.recent")),
      h("ul", { class: "plain" }, c.recent_conversations.map((r) => h("li", {},
        h("a", { href: `#/c/${r.id}` }, channelBadge(r.channel), " ", formatTime(r.last_message_at)), " ",
        h("span", { class: "muted" }, r.status)))),
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
    const form = h("form", { class: "inline-edit", onsubmit: async (e) => {
      e.preventDefault();
      try {
        this.customer = await patch(`/api/v1/customers/${this.customer.id}`, { [key]: input.value.trim() || null });
        replace(this.el, this.content());
        this.onSaved();
      } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
    } }, input, h("button", { type: "submit" }, t("common.save")),
      h("button", { type: "button", onclick: () => replace(this.el, this.content()) }, t("common.cancel")));
    replace(dd, form);
    input.focus();
  }
}

function reason(why) {
  if (!why) return t("common.none");
  if (why.pinned_by) return `pinned by ${why.pinned_by}`;
  return why.rule ? `${why.rule}` : JSON.stringify(why);
}

function revenue(values) {
  if (!values) return t("common.none");
  return Object.entries(values).map(([k, v]) =>
    `${k}: ${formatNumber(Number(v.amount), { style: "currency", currency: v.currency || "EUR", maximumFractionDigits: 0 })}`).join(", ");
}


// The inbox: offers (with a countdown), my conversations, team queues, snoozed ones.
// Rows are rebuilt from the API whenever a live event says something changed.
import { get, post } from "./api.js";
import { h, replace, announce, toast } from "./dom.js";
import { t, formatDuration, formatClock } from "./i18n.js";
import { state } from "./state.js";
import { tagLine, tagFilter } from "./tags.js";

const CHANNEL_BADGE = { email: "Mail", sms: "SMS", voice: "Tel", fax: "Fax", chat: "Chat", api: "API" };

export function channelBadge(channel) {
  return h("span", { class: `badge channel ch-${channel}`, title: t(`channel.${channel}`), "aria-label": t(`channel.${channel}`) },
    CHANNEL_BADGE[channel] || channel);
}

export function tierBadge(tier) {
  return h("span", { class: `badge tier tier-${tier}` }, tier);
}

// what the customer marked (an email's Importance / X-Priority) or a rule set; normal shows nothing
export function priorityBadge(priority) {
  if (priority !== "high" && priority !== "low") return null;
  const label = t(`priority.${priority}`);
  return h("span", { class: `badge priority priority-${priority}`, title: label, "aria-label": label }, label);
}

function due(conv) {
  const sla = conv.sla || {};
  return sla.first_response_at ? sla.next_response_due : sla.first_response_due;
}

export class Inbox {
  constructor(root, { open, onOffers }) {
    this.root = root;
    this.open = open;
    this.onOffers = onOffers || (() => {});
    this.tag = null; // the tag filter, if any
    this.filterEl = h("div", { class: "inbox-filter" });
    this.list = h("div", { class: "inbox-lists" });
    replace(this.root, this.filterEl, this.list);
    this.renderFilter();
    this.selected = null;
    this.rows = [];
    this.pending = null;
    setInterval(() => this.tick(), 1000);
  }

  renderFilter() {
    replace(this.filterEl, tagFilter(this.tag, (tag) => {
      this.tag = tag;
      this.renderFilter();
      if (tag) announce(t("tags.filtered", { tag }));
      this.refresh();
    }));
  }

  async load() {
    // offers always show; the tag narrows the rest
    const only = this.tag ? `&tag=${encodeURIComponent(this.tag)}` : "";
    const [mine, queues] = await Promise.all([
      get("/api/v1/conversations?status=open&view=mine&limit=200"),
      get(`/api/v1/conversations?status=open&view=queues&limit=200${only}`),
    ]);
    const tagged = (c) => !this.tag || (c.tags || []).includes(this.tag);
    const before = new Set([...state.conversations.values()].filter((c) => c.state === "offered" && c.offered_to === state.me.id).map((c) => c.id));
    state.conversations.clear();
    for (const c of [...mine.items, ...queues.items]) state.conversations.set(c.id, c);
    const offers = mine.items.filter((c) => c.state === "offered" && c.offered_to === state.me.id);
    const fresh = offers.filter((offer) => !before.has(offer.id));
    for (const offer of fresh) announce(t("notice.offer", { name: offer.customer.name || offer.customer.contact || "" }));
    this.onOffers(offers, fresh);
    this.render(
      offers,
      mine.items.filter((c) => c.assignee_id === state.me.id && !c.snoozed && tagged(c)),
      queues.items.filter((c) => c.offered_to !== state.me.id),
      mine.items.filter((c) => c.assignee_id === state.me.id && c.snoozed && tagged(c)),
    );
  }

  // Many events arrive in bursts: one reload per burst.
  refresh() {
    if (this.pending) return;
    this.pending = setTimeout(async () => {
      this.pending = null;
      try { await this.load(); } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
    }, 150);
  }

  render(offers, mine, queues, snoozed) {
    this.rows = [];
    const section = (key, items, withActions) => h("section", { class: "inbox-section", "aria-labelledby": `h-${key}` },
      h("h2", { id: `h-${key}` }, t(`inbox.${key}`), " ", h("span", { class: "count" }, String(items.length))),
      items.length
        ? h("ul", { class: "rows", role: "list" }, items.map((c) => this.row(c, withActions)))
        : h("p", { class: "empty" }, t("inbox.empty")));
    replace(this.list,
      section("offers", offers, true),
      section("mine", mine, false),
      section("queues", queues, false),
      snoozed.length ? section("snoozed", snoozed, false) : null);
    this.tick();
  }

  row(conv, withActions) {
    const name = conv.customer.name || conv.customer.contact || t("common.none");
    const link = h("a", { href: `#/c/${conv.id}`, class: "row-link", dataset: { id: conv.id } },
      channelBadge(conv.channel), " ",
      h("span", { class: "customer-name" }, name), " ", tierBadge(conv.customer.tier), " ", priorityBadge(conv.priority));
    const meta = h("span", { class: "row-meta" },
      h("span", { class: "wait", dataset: { since: conv.opened_at } }),
      h("span", { class: "due", dataset: { due: due(conv) || "" } }),
      withActions ? h("span", { class: "countdown", dataset: { expires: conv.offer_expires_at || "" } }) : null);
    const tags = tagLine(conv);
    const actions = withActions ? h("span", { class: "row-actions" },
      h("button", { type: "button", class: "primary", onclick: () => this.accept(conv.id) }, t("inbox.accept")),
      h("button", { type: "button", onclick: () => this.reject(conv.id) }, t("inbox.reject"))) : null;
    const li = h("li", { class: `row state-${conv.state}${conv.id === this.selected ? " selected" : ""}`, dataset: { id: conv.id } }, link, meta, tags, actions);
    this.rows.push(conv.id);
    return li;
  }

  tick() {
    const now = Date.now();
    for (const el of this.root.querySelectorAll(".wait")) {
      el.textContent = t("inbox.waiting", { d: formatDuration((now - Date.parse(el.dataset.since)) / 1000) });
    }
    for (const el of this.root.querySelectorAll(".due")) {
      if (!el.dataset.due) { el.textContent = ""; continue; }
      const left = Date.parse(el.dataset.due) - now;
      el.textContent = left < 0 ? t("inbox.overdue") : t("inbox.due", { t: formatClock(el.dataset.due) });
      el.classList.toggle("late", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 5 * 60 * 1000);
    }
    for (const el of this.root.querySelectorAll(".countdown")) {
      if (!el.dataset.expires) continue;
      el.textContent = t("inbox.expires", { s: Math.max(0, Math.round((Date.parse(el.dataset.expires) - now) / 1000)) });
    }
  }

  async accept(id) {
    try {
      await post(`/api/v1/conversations/${id}/accept`);
      this.open(id);
    } catch (err) { toast(err.message, "error"); }
    this.refresh();
  }

  async reject(id) {
    try { await post(`/api/v1/conversations/${id}/reject`); } catch (err) { toast(err.message, "error"); }
    this.refresh();
  }

  move(step) {
    if (!this.rows.length) return;
    const at = this.rows.indexOf(this.selected);
    this.selected = this.rows[(at + step + this.rows.length) % this.rows.length];
    for (const el of this.root.querySelectorAll(".row")) el.classList.toggle("selected", el.dataset.id === this.selected);
    this.root.querySelector(`.row[data-id="${this.selected}"] .row-link`)?.focus();
  }

  firstOffer() {
    return [...state.conversations.values()].find((c) => c.state === "offered" && c.offered_to === state.me.id);
  }
}

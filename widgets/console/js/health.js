// Customer health in the console: the early-warning list (customers at risk or on watch,
// the most revenue at stake first; a key account manager sees their accounts) and the
// lines that explain a score, each with a link to what caused it.
import { get } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, formatNumber } from "./i18n.js";
import { tierBadge } from "./inbox.js";

// One line of a score's explanation: the signal, its points, when, and its link.
export function reasonLine(line) {
  const what = t(`health.signal.${line.signal}`, { name: line.detail?.name || "", score: line.detail?.score ?? "", trend: line.detail?.trend != null ? formatNumber(line.detail.trend, { style: "percent" }) : "" });
  const when = new Date(line.at).toLocaleDateString(document.documentElement.lang || "en");
  const conv = line.link?.conversation_id;
  const href = conv && (line.link.message_id ? `#/c/${conv}/m/${line.link.message_id}` : `#/c/${conv}`);
  const link = href ? h("a", { href }, what) : what;
  return h("li", { class: "reason", dataset: { signal: line.signal } },
    h("span", { class: "points" }, formatNumber(line.points, { maximumFractionDigits: 1, signDisplay: "always" })), " ", link,
    " ", h("span", { class: "muted" }, when));
}

export function levelBadge(level, score) {
  return h("span", { class: `health-level ${level}`, title: t("health.score", { score }) }, `${score} · ${t(`health.level.${level}`)}`);
}

export class WatchlistView {
  constructor(root) {
    this.root = root;
    this.pending = null;
  }

  async load() {
    this.filters = this.filters || { level: "at_risk,watch", tier: "", segment: "" };
    const params = new URLSearchParams(Object.entries(this.filters).filter(([, v]) => v));
    const [{ items }, segments] = await Promise.all([
      get(`/api/v1/health/watchlist?${params}`),
      this.segments ? Promise.resolve(this.segments) : get("/api/v1/segments").then((b) => b.items).catch(() => []),
    ]);
    this.segments = segments;
    const rows = items.map((w) => h("tr", { class: "watch-row", dataset: { id: w.customer.id, level: w.level } },
      h("th", { scope: "row" }, h("span", { class: "account-name" }, w.customer.organisation || w.customer.name || t("common.none")), " ", tierBadge(w.customer.tier)),
      h("td", {}, levelBadge(w.level, w.score), w.fall ? h("span", { class: "late" }, ` ${t("health.fall", { n: w.fall })}`) : null),
      h("td", {}, h("ul", { class: "plain reasons" }, w.reasons.map(reasonLine))),
      h("td", { class: "num" }, formatNumber(w.revenue_at_stake.amount, { style: "currency", currency: w.revenue_at_stake.currency, maximumFractionDigits: 0 })),
      h("td", { class: "num" }, w.days_since_contact == null ? t("common.none") : String(w.days_since_contact))));
    replace(this.root, h("section", { class: "card", "aria-labelledby": "watch-title" },
      h("h2", { id: "watch-title" }, t("health.title")),
      this.filterForm(),
      items.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "watchlist", id: "watchlist" },
          h("thead", {}, h("tr", {}, ["customer", "health", "reasons", "at_stake", "since_contact"].map((k) => h("th", { scope: "col" }, t(`health.col.${k}`))))),
          h("tbody", {}, rows)))
        : h("p", { class: "muted" }, t("health.none"))));
  }

  // Which levels, tiers (comma-separated) and segment the list shows.
  filterForm() {
    const f = this.filters;
    const level = h("select", { name: "level", id: "watch-level", "aria-label": t("health.col.health") },
      [["at_risk,watch", `${t("health.level.at_risk")} + ${t("health.level.watch")}`], ["at_risk", t("health.level.at_risk")], ["watch", t("health.level.watch")]]
        .map(([v, label]) => h("option", { value: v, selected: v === f.level }, label)));
    const tier = h("input", { name: "tier", id: "watch-tier", value: f.tier, size: 12, placeholder: t("rep.c.tier"), "aria-label": t("rep.c.tier") });
    const segment = h("select", { name: "segment", id: "watch-segment", "aria-label": t("rep.seg.title") },
      h("option", { value: "" }, t("rep.seg.all")), this.segments.map((sg) => h("option", { value: sg.id, selected: sg.id === f.segment }, sg.name)));
    return h("form", { class: "watch-filters", onsubmit: (e) => {
      e.preventDefault();
      this.filters = { level: level.value, tier: tier.value.trim(), segment: segment.value };
      this.load().catch((err) => toast(err.message, "error"));
    } }, level, " ", tier, " ", segment, " ", h("button", { type: "submit", id: "watch-apply" }, t("tags.apply")));
  }

  refresh() {
    if (this.pending) return;
    this.pending = setTimeout(async () => {
      this.pending = null;
      try { await this.load(); } catch (err) { toast(err.message, "error"); }
    }, 300);
  }
}

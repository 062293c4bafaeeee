// The supervisor's view: queue depth per queue and tier, agents with presence and load,
// SLA breaches, and SVG charts of the last hours. Reloads when live events say so.
import { get } from "./api.js";
import { h, replace, svg, toast } from "./dom.js";
import { t, formatDuration, formatClock, formatTime } from "./i18n.js";
import { state } from "./state.js";

const COLORS = { email: "#3a6ea5", sms: "#4c9a2a", voice: "#b5651d", fax: "#7a5195", chat: "#d45087", api: "#6b7280",
  platinum: "#5b5f97", gold: "#c99a06", standard: "#6b7280" };
const HOURS = 8;

export class SupervisorView {
  constructor(root) {
    this.root = root;
    this.pending = null;
  }

  async load() {
    const [queues, agents, breaches, hours] = await Promise.all([
      get("/api/v1/queues"), get("/api/v1/supervisor/agents"),
      get("/api/v1/sla/breaches?limit=20"), get(`/api/v1/stats/hourly?hours=${HOURS}`),
    ]);
    state.queues = queues.items;
    replace(this.root,
      h("div", { class: "sup-grid" },
        this.card("queues", scroll(this.queueTable(queues.items)), null, "wide"),
        this.card("agents", scroll(this.agentTable(agents.items))),
        this.card("volume", volumeChart(hours.hours), t("sup.hours", { n: HOURS })),
        this.card("frt", frtChart(hours.hours), t("sup.hours", { n: HOURS })),
        this.card("breaches", this.breachList(breaches.items))));
  }

  refresh() {
    if (this.pending) return;
    this.pending = setTimeout(async () => {
      this.pending = null;
      try { await this.load(); } catch (err) { toast(err.message, "error"); }
    }, 300);
  }

  card(key, body, note, wide) {
    return h("section", { class: wide ? "card wide" : "card", "aria-labelledby": `sup-${key}` },
      h("h2", { id: `sup-${key}` }, t(`sup.${key}`), note ? h("span", { class: "muted" }, ` · ${note}`) : null), body);
  }

  queueTable(items) {
    const rows = [];
    for (const q of items) {
      rows.push(h("tr", { class: "queue-row", dataset: { queue: q.queue } },
        h("th", { scope: "row" }, q.queue), h("td", {}, ""),
        h("td", { class: "num waiting" }, String(q.waiting)), h("td", { class: "num" }, String(q.offered)),
        h("td", { class: "num" }, q.oldest_wait_s == null ? t("common.none") : formatDuration(q.oldest_wait_s)),
        h("td", { class: `num${q.breached ? " late" : ""}` }, String(q.breached))));
      for (const [tier, v] of Object.entries(q.tiers)) {
        rows.push(h("tr", { class: "tier-row" }, h("td", {}), h("td", {}, tier), h("td", { class: "num" }, String(v.waiting)),
          h("td", { class: "num" }, String(v.offered)), h("td", { class: "num" }, formatDuration(v.oldest_wait_s)), h("td", {})));
      }
    }
    return h("table", {}, h("thead", {}, h("tr", {}, ["queue", "tier", "waiting", "offered", "oldest", "breached"].map((k) =>
      h("th", { scope: "col" }, t(`sup.${k}`))))), h("tbody", {}, rows));
  }

  agentTable(items) {
    return h("table", {}, h("thead", {}, h("tr", {}, ["agent", "presence", "load"].map((k) => h("th", { scope: "col" }, t(`sup.${k}`))))),
      h("tbody", {}, items.map((a) => h("tr", {},
        h("th", { scope: "row" }, a.name),
        h("td", {}, h("span", { class: `dot ${a.presence}` }), " ", t(`presence.${a.presence}`)),
        h("td", {}, Object.entries(a.capacity).filter(([ch]) => a.load[ch] || ["chat", "email", "sms", "voice"].includes(ch))
          .map(([ch, cap]) => h("span", { class: "load" }, `${t("channel." + ch)} ${a.load[ch] || 0}/${cap}`)))))));
  }

  breachList(items) {
    if (!items.length) return h("p", { class: "muted" }, t("sup.no_breaches"));
    return h("ul", { class: "plain" }, items.map((b) => h("li", {},
      h("a", { href: `#/c/${b.conversation_id}` }, formatTime(b.at)), ` · ${t(`breach.${b.kind}`)} · ${b.queue || ""}`)));
  }
}

// A table that may be wider than a narrow screen scrolls within its card, not the page.
function scroll(table) {
  return h("div", { class: "table-scroll" }, table);
}

function legend(keys) {
  return h("ul", { class: "legend" }, keys.map((k) => h("li", {}, svg("svg", { width: 10, height: 10, "aria-hidden": "true" }, svg("rect", { width: 10, height: 10, fill: COLORS[k] || "#888" })), " ", k)));
}

const W = 420, H = 160, PAD = 28;

function axes(hours, max, unit) {
  const step = (W - PAD * 2) / Math.max(1, hours.length);
  return [
    svg("line", { x1: PAD, y1: H - PAD, x2: W - PAD / 2, y2: H - PAD, class: "axis" }),
    svg("text", { x: 2, y: PAD - 8, class: "axis-label" }, unit(max)),
    hours.map((hr, i) => i % 2 === 0 ? svg("text", { x: PAD + i * step + step / 2, y: H - 8, class: "axis-label", "text-anchor": "middle" }, formatClock(hr.start)) : null),
  ];
}

export function volumeChart(hours) {
  const channels = [...new Set(hours.flatMap((hr) => Object.keys(hr.volume)))].sort();
  const max = Math.max(1, ...hours.map((hr) => Object.values(hr.volume).reduce((a, b) => a + b, 0)));
  if (!channels.length) return h("p", { class: "muted" }, t("sup.chart_empty"));
  const step = (W - PAD * 2) / hours.length;
  const bars = hours.flatMap((hr, i) => {
    let y = H - PAD;
    return channels.map((ch) => {
      const n = hr.volume[ch] || 0;
      const height = ((H - PAD * 2) * n) / max;
      y -= height;
      return n ? svg("rect", { x: PAD + i * step + 3, y, width: step - 6, height, fill: COLORS[ch] || "#888" },
        svg("title", {}, `${formatClock(hr.start)} ${ch}: ${n}`)) : null;
    });
  });
  return h("figure", {}, svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("sup.volume"), class: "chart" },
    axes(hours, max, String), bars), legend(channels));
}

export function frtChart(hours) {
  const tiers = [...new Set(hours.flatMap((hr) => Object.keys(hr.first_response_s)))].sort();
  if (!tiers.length) return h("p", { class: "muted" }, t("sup.chart_empty"));
  const max = Math.max(1, ...hours.flatMap((hr) => Object.values(hr.first_response_s)));
  const step = (W - PAD * 2) / hours.length;
  const lines = tiers.map((tier) => {
    const points = hours.map((hr, i) => [hr.first_response_s[tier], i]).filter(([v]) => v !== undefined)
      .map(([v, i]) => [PAD + i * step + step / 2, H - PAD - ((H - PAD * 2) * v) / max]);
    return [svg("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none", stroke: COLORS[tier] || "#888", "stroke-width": 2 }),
      points.map(([x, y]) => svg("circle", { cx: x, cy: y, r: 3, fill: COLORS[tier] || "#888" }))];
  });
  return h("figure", {}, svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("sup.frt"), class: "chart" },
    axes(hours, max, formatDuration), lines), legend(tiers));
}

// The reports page (supervisors and admins; a key account manager: their accounts'): one measure over a range as a line or bar
// chart with its table and a CSV download; tier fairness side by side; the customer list
// with filters, and saved segments with their live counts.
// Charts are drawn here as SVG, as the supervisor view's are: no charting library fits
// the console's no-build, no-dependency rule as a small ES module.
import { get, post, del } from "./api.js";
import { h, replace, svg, toast } from "./dom.js";
import { t, language } from "./i18n.js";
import { isSupervisor } from "./state.js";

export const MEASURES = [
  "conversations_opened", "messages_in", "messages_out", "conversations_closed", "first_response_time",
  "next_response_time", "resolution_time", "handling_time", "wait_before_accept", "sla_attainment", "sla_met", "sla_missed",
  "sla_breaches", "offers", "offers_rejected", "offers_missed", "reopens", "reopen_rate", "transfers",
  "transfers_per_conversation",
];
const GROUPS = ["", "channel", "tier", "queue", "department", "agent", "team", "key_account", "hour_of_day", "weekday", "business_hours", "tag"];
const BUCKETS = ["hour", "day", "week", "month"];
const PALETTE = ["#3a6ea5", "#c99a06", "#4c9a2a", "#d45087", "#7a5195", "#b5651d", "#6b7280", "#2a9d8f", "#e76f51"];
// what a chart plots of each kind of measure
const PLOTTED = { count: "count", duration: "median", ratio: "value" };
const FIGURES = { count: ["count"], duration: ["count", "mean", "median", "p90", "max"], ratio: ["numerator", "denominator", "value"] };

function isoDay(date) { return date.toISOString().slice(0, 10); }
function number(value) {
  if (value === null || value === undefined) return t("common.none");
  return new Intl.NumberFormat(language(), { maximumFractionDigits: 4 }).format(value);
}
function percent(value) {
  return value === null || value === undefined ? t("common.none")
    : new Intl.NumberFormat(language(), { style: "percent", maximumFractionDigits: 1 }).format(value);
}
function query(params) {
  return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();
}
function select(name, options, label, value) {
  return h("label", {}, label, " ", h("select", { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

export class ReportsView {
  constructor(root) {
    this.root = root;
    const today = new Date();
    // "to" is the end, not included: the default week runs up to and with today
    this.params = { measure: "conversations_opened", from: isoDay(new Date(today - 6 * 86400e3)), to: isoDay(new Date(+today + 86400e3)),
      bucket: "day", group_by: "", segment: "" };
    this.chartType = "line";
    this.segments = [];
    this.customerFilters = {};
    this.cursor = null;
  }

  async load() {
    this.reportEl = h("div", { class: "report-body" });
    this.fairnessEl = h("div", { class: "fairness-body" });
    this.segmentsEl = h("div", { class: "segments-body" });
    this.customersEl = h("div", { class: "customers-body" });
    this.campaignsEl = h("div", { class: "campaigns-body" });
    replace(this.root, h("div", { class: "reports" },
      h("section", { class: "card", "aria-labelledby": "rep-title" }, h("h2", { id: "rep-title" }, t("rep.title")),
        isSupervisor() ? null : h("p", { class: "hint", id: "rep-scope" }, t("rep.kam_scope")), this.reportForm(), this.reportEl),
      h("section", { class: "card", "aria-labelledby": "fair-title" }, h("h2", { id: "fair-title" }, t("rep.fairness")), this.fairnessEl),
      isSupervisor() ? h("section", { class: "card", "aria-labelledby": "camp-title" }, h("h2", { id: "camp-title" }, t("rep.campaigns")), this.campaignsEl) : null,
      h("section", { class: "card", "aria-labelledby": "cust-title" }, h("h2", { id: "cust-title" }, t("rep.customers")),
        this.customerForm(), this.segmentsEl, this.customersEl)));
    await this.loadSegments();
    await Promise.all([this.showReport(), this.showFairness(), this.showCustomers(), this.showCampaigns()]);
  }

  // --- one measure -------------------------------------------------------------------
  reportForm() {
    const p = this.params;
    const form = h("form", { class: "report-form", onsubmit: (e) => { e.preventDefault(); this.readForm(form); this.showReport(); this.showFairness(); this.showCampaigns(); } },
      select("measure", MEASURES.map((m) => [m, t(`rep.m.${m}`)]), t("rep.measure"), p.measure),
      h("label", {}, t("rep.from"), " ", h("input", { type: "date", name: "from", value: p.from, required: true })),
      h("label", {}, t("rep.to"), " ", h("input", { type: "date", name: "to", value: p.to, required: true })),
      select("bucket", BUCKETS.map((b) => [b, t(`rep.bucket.${b}`)]), t("rep.bucket"), p.bucket),
      select("group_by", GROUPS.map((g) => [g, g ? t(`rep.group.${g}`) : t("rep.group.none")]), t("rep.group_by"), p.group_by),
      select("chart", [["line", t("rep.line")], ["bar", t("rep.bar")]], t("rep.chart"), this.chartType),
      h("label", {}, t("rep.segment"), " ", this.segmentPicker = h("select", { name: "segment" })),
      h("button", { type: "submit", id: "rep-show" }, t("rep.show")));
    return form;
  }

  readForm(form) {
    const data = new FormData(form);
    for (const key of ["measure", "from", "to", "bucket", "group_by", "segment"]) this.params[key] = data.get(key) || "";
    this.chartType = data.get("chart");
  }

  url(format) {
    const p = this.params;
    return `/api/v1/reports/${encodeURIComponent(p.measure)}?${query({ from: p.from, to: p.to, bucket: p.bucket,
      group_by: p.group_by, segment: p.segment, format, lang: format ? language() : "" })}`;
  }

  async showReport() {
    let report;
    try { report = await get(this.url()); } catch (err) { replace(this.reportEl, h("p", { role: "alert" }, err.message)); return; }
    const figures = FIGURES[report.kind];
    const table = h("table", { class: "report-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("rep.start")), report.group_by ? h("th", { scope: "col" }, t(`rep.group.${report.group_by}`)) : null,
        figures.map((f) => h("th", { scope: "col" }, t(`rep.f.${f}`))))),
      h("tbody", {}, report.rows.map((row) => h("tr", {},
        h("td", {}, row.start), report.group_by ? h("th", { scope: "row" }, row.group) : null,
        figures.map((f) => h("td", { class: "num", dataset: { figure: f } }, number(row[f])))))));
    replace(this.reportEl,
      chart(report, this.chartType),
      h("p", {}, h("a", { href: this.url("csv"), download: "", id: "rep-csv" }, t("rep.csv"))),
      h("div", { class: "table-scroll" }, table));
  }

  // --- tier fairness -----------------------------------------------------------------
  async showFairness() {
    const p = this.params;
    const url = (format) => `/api/v1/reports/tier-fairness?${query({ from: p.from, to: p.to, segment: p.segment,
      format, lang: format ? language() : "" })}`;
    let body;
    try { body = await get(url()); }
    catch (err) { replace(this.fairnessEl, h("p", { role: "alert" }, err.message)); return; }
    const columns = ["tier", "promise", "attainment", "met", "missed", "median", "p90", "longest_wait", "breaches"];
    const rows = body.tiers.map((tier) => h("tr", { class: `fairness-row${tier.below_floor ? " late" : ""}`, dataset: { tier: tier.tier } },
      h("th", { scope: "row" }, tier.tier),
      h("td", { class: "num" }, tier.promise_s.default === undefined ? t("common.none") : number(tier.promise_s.default)),
      h("td", { class: "num", dataset: { figure: "attainment" } }, percent(tier.attainment)),
      h("td", { class: "num" }, number(tier.sla_met)), h("td", { class: "num" }, number(tier.sla_missed)),
      h("td", { class: "num", dataset: { figure: "median" } }, number(tier.first_response_s.median)),
      h("td", { class: "num" }, number(tier.first_response_s.p90)),
      h("td", { class: "num" }, number(tier.longest_wait_before_accept_s)),
      h("td", { class: "num" }, number(tier.breaches))));
    replace(this.fairnessEl,
      attainmentChart(body.tiers),
      h("p", {}, h("a", { href: url("csv"), download: "", id: "fair-csv" }, t("rep.csv"))),
      h("div", { class: "table-scroll" }, h("table", { class: "fairness" },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(`rep.fair.${c}`))))), h("tbody", {}, rows))),
      body.warnings.length ? h("ul", { class: "plain warnings", role: "status" }, body.warnings.map((w) => h("li", { class: "late" }, w))) : null);
  }

  // --- campaigns: their results, and per segment ----------------------------------------
  async showCampaigns() {
    if (!isSupervisor()) return;
    let body;
    try { body = await get(`/api/v1/reports/campaigns?${query({ from: this.params.from, to: this.params.to })}`); }
    catch (err) { replace(this.campaignsEl, h("p", { role: "alert" }, err.message)); return; }
    if (!body.campaigns.length) { replace(this.campaignsEl, h("p", { class: "muted" }, t("rep.camp.none"))); return; }
    const figures = ["recipients", "sent", "delivered", "failed", "replied", "opted_out", "skipped"];
    const head = (first) => h("thead", {}, h("tr", {}, first.map((c) => h("th", { scope: "col" }, t(`rep.camp.${c}`))),
      figures.map((f) => h("th", { scope: "col" }, t(`rep.camp.${f}`)))));
    const cells = (row) => figures.map((f) => h("td", { class: "num", dataset: { figure: f } }, number(row[f])));
    replace(this.campaignsEl,
      h("div", { class: "table-scroll" }, h("table", { class: "campaign-results", id: "campaign-results" }, head(["name", "segment", "channel"]),
        h("tbody", {}, body.campaigns.map((c) => h("tr", { dataset: { id: c.id } }, h("th", { scope: "row" }, c.name),
          h("td", {}, c.segment || t("common.none")), h("td", {}, t(`channel.${c.channel}`)), cells(c.results)))))),
      h("h3", {}, t("rep.camp.per_segment")),
      h("div", { class: "table-scroll" }, h("table", { class: "campaign-segments", id: "campaign-segments" }, head(["segment", "campaigns"]),
        h("tbody", {}, body.segments.map((s) => h("tr", { dataset: { id: s.segment_id } }, h("th", { scope: "row" }, s.segment || t("common.none")),
          h("td", { class: "num" }, number(s.campaigns)), cells(s)))))));
  }

  // --- customers and segments ----------------------------------------------------------
  customerForm() {
    const field = (name, label, attrs = {}) => h("label", {}, label, " ", h("input", { name, ...attrs }));
    const form = h("form", { class: "customer-form", onsubmit: (e) => { e.preventDefault(); this.customerFilters = filtersOf(form); this.showCustomers(); } },
      field("tier", t("rep.c.tier"), { size: 10 }),
      select("key_account", [["", t("rep.c.any")], ["true", t("common.yes")], ["false", t("common.no")]], t("side.key_account"), ""),
      field("language", t("side.language"), { size: 6 }),
      field("tag", t("tags.label"), { size: 10 }),
      select("open_conversations", [["", t("rep.c.any")], ["true", t("common.yes")], ["false", t("common.no")]], t("rep.c.open"), ""),
      field("currency", t("rep.c.currency"), { size: 4 }),
      field("revenue_min", t("rep.c.revenue_min"), { size: 8, inputmode: "decimal" }),
      field("revenue_max", t("rep.c.revenue_max"), { size: 8, inputmode: "decimal" }),
      field("consent", t("side.consent"), { size: 14, placeholder: "email:marketing" }),
      field("contract", t("side.contracts"), { size: 12 }),
      field("contract_ends_before", t("rep.c.contract_ends_before"), { type: "date" }),
      select("sort", [["name", t("side.name")], ["-revenue", t("side.revenue")], ["-last_contact", t("ka.last_contact")], ["-created", t("rep.c.created")]], t("rep.c.sort"), "name"),
      h("button", { type: "submit", id: "cust-filter" }, t("tags.apply")),
      h("span", { class: "save-segment" },
        h("input", { name: "segment_name", id: "segment-name", "aria-label": t("rep.seg.name"), placeholder: t("rep.seg.name"), size: 16 }),
        h("button", { type: "button", id: "segment-save", onclick: () => this.saveSegment(form) }, t("rep.seg.save"))));
    return form;
  }

  async saveSegment(form) {
    const name = form.elements.segment_name.value.trim();
    if (!name) { form.elements.segment_name.focus(); return; }
    try {
      const { sort, ...filters } = filtersOf(form);
      await post("/api/v1/segments", { name, filters });
      form.elements.segment_name.value = "";
      this.customerFilters = filtersOf(form);
      this.showCustomers();
      toast(t("rep.seg.saved", { name }));
      await this.loadSegments();
    } catch (err) { toast(err.message, "error"); }
  }

  async loadSegments() {
    this.segments = (await get("/api/v1/segments")).items;
    const chosen = this.params.segment;
    replace(this.segmentPicker, h("option", { value: "" }, t("rep.seg.all")),
      this.segments.map((s) => h("option", { value: s.id, selected: s.id === chosen }, s.name)));
    replace(this.segmentsEl, h("h3", {}, t("rep.seg.title"), " ",
      h("button", { type: "button", id: "segments-refresh", onclick: () => this.loadSegments().catch((e) => toast(e.message, "error")) }, t("rep.seg.refresh"))),
    this.segments.length ? h("ul", { class: "plain segments" }, this.segments.map((s) => h("li", { class: "segment", dataset: { id: s.id, name: s.name } },
      h("button", { type: "button", class: "link", onclick: () => { this.customerFilters = { ...s.filters }; this.showCustomers(); } }, s.name),
      " ", h("span", { class: "segment-count" }, String(s.count)), " ", h("span", { class: "muted" }, s.team ? t("views.team", { team: s.team }) : t("views.private")),
      " ", h("button", { type: "button", "aria-label": t("views.delete", { name: s.name }), onclick: () => this.deleteSegment(s) }, "×"))))
      : h("p", { class: "muted" }, t("rep.seg.none")));
  }

  async deleteSegment(segment) {
    try { await del(`/api/v1/segments/${segment.id}`); await this.loadSegments(); } catch (err) { toast(err.message, "error"); }
  }

  async showCustomers(more) {
    let page;
    const params = { ...this.customerFilters, limit: 50, cursor: more ? this.cursor : "" };
    try { page = await get(`/api/v1/customers?${query(params)}`); } catch (err) { replace(this.customersEl, h("p", { role: "alert" }, err.message)); return; }
    this.cursor = page.next_cursor;
    const rows = page.items.map((c) => h("tr", { class: "customer-row", dataset: { id: c.id } },
      h("th", { scope: "row" }, c.name || c.organisation || t("common.none")), h("td", {}, c.tier),
      h("td", {}, c.key_account ? t("common.yes") : t("common.no")), h("td", {}, c.language || t("common.none")),
      h("td", { class: "num" }, c.revenue?.revenue_12m ? `${number(c.revenue.revenue_12m.amount)} ${c.revenue.revenue_12m.currency}` : t("common.none")),
      h("td", {}, c.last_contact_at ? new Date(c.last_contact_at).toLocaleString(language()) : t("common.none")),
      h("td", { class: "num" }, String(c.open_conversations))));
    const tbody = more ? this.customersEl.querySelector("tbody") : null;
    if (tbody) tbody.append(...rows);
    else {
      replace(this.customersEl, h("div", { class: "table-scroll" }, h("table", { class: "customers" },
        h("thead", {}, h("tr", {}, ["name", "tier", "key_account", "language", "revenue", "last_contact", "open"].map((k) => h("th", { scope: "col" }, t(`rep.c.col.${k}`))))),
        h("tbody", {}, rows))));
    }
    this.customersEl.querySelector(".more")?.remove();
    if (this.cursor) this.customersEl.append(h("button", { type: "button", class: "more", onclick: () => this.showCustomers(true) }, t("rep.c.more")));
  }
}

function filtersOf(form) {
  const filters = {};
  for (const [key, value] of new FormData(form)) if (key !== "segment_name" && String(value).trim()) filters[key] = String(value).trim();
  return filters;
}

// --- charts: SVG with axes, ticks and a legend ---------------------------------------------
const W = 640, H = 220, LEFT = 48, RIGHT = 12, TOP = 12, BOTTOM = 36;

function yAxis(max, format) {
  const ticks = [0, max / 2, max];
  return ticks.map((v) => {
    const y = H - BOTTOM - ((H - TOP - BOTTOM) * v) / max;
    return [svg("line", { x1: LEFT, y1: y, x2: W - RIGHT, y2: y, class: v ? "grid" : "axis" }),
      svg("text", { x: LEFT - 4, y: y + 3, class: "axis-label", "text-anchor": "end" }, format(v))];
  });
}

function xLabels(labels) {
  const step = (W - LEFT - RIGHT) / Math.max(1, labels.length);
  const every = Math.ceil(labels.length / 8);
  return labels.map((label, i) => i % every === 0
    ? svg("text", { x: LEFT + i * step + step / 2, y: H - BOTTOM + 14, class: "axis-label", "text-anchor": "middle" }, label) : null);
}

function legend(groups) {
  return h("ul", { class: "legend" }, groups.map((g, i) => h("li", {},
    svg("svg", { width: 10, height: 10, "aria-hidden": "true" }, svg("rect", { width: 10, height: 10, fill: PALETTE[i % PALETTE.length] })), " ", g || t("rep.all"))));
}

// an axis label: the local start of the bucket without its offset (the table has it whole)
function shortLabel(start, bucket) {
  return bucket === "hour" ? start.slice(5, 16).replace("T", " ") : start.slice(0, 10);
}

export function chart(report, type) {
  const plotted = PLOTTED[report.kind];
  const starts = [...new Set(report.rows.map((r) => r.start))];
  const groups = [...new Set(report.rows.map((r) => r.group))];
  const value = new Map(report.rows.map((r) => [`${r.start}|${r.group}`, r[plotted]]));
  const values = report.rows.map((r) => r[plotted]).filter((v) => v !== null && v !== undefined);
  if (!values.length) return h("p", { class: "muted" }, t("sup.chart_empty"));
  const max = report.kind === "ratio" ? 1 : Math.max(1, ...values);
  const format = report.kind === "ratio" ? percent : number;
  const step = (W - LEFT - RIGHT) / Math.max(1, starts.length);
  const y = (v) => H - BOTTOM - ((H - TOP - BOTTOM) * v) / max;
  const marks = groups.map((group, gi) => {
    const color = PALETTE[gi % PALETTE.length];
    if (type === "bar") {
      const width = Math.max(1, (step - 4) / groups.length);
      return starts.map((start, i) => {
        const v = value.get(`${start}|${group}`);
        return v ? svg("rect", { x: LEFT + i * step + 2 + gi * width, y: y(v), width, height: H - BOTTOM - y(v), fill: color },
          svg("title", {}, `${start} ${group}: ${format(v)}`)) : null;
      });
    }
    const points = starts.map((start, i) => [value.get(`${start}|${group}`), i]).filter(([v]) => v !== null && v !== undefined)
      .map(([v, i]) => [LEFT + i * step + step / 2, y(v), v, starts[i]]);
    return [svg("polyline", { points: points.map(([px, py]) => `${px},${py}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 }),
      points.map(([px, py, v, start]) => svg("circle", { cx: px, cy: py, r: 3, fill: color }, svg("title", {}, `${start} ${group}: ${format(v)}`)))];
  });
  const unit = report.kind === "duration" ? ` (${t("rep.f.median")}, s)` : "";
  return h("figure", { class: "report-chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": `${t(`rep.m.${report.measure}`)}${unit}` },
      yAxis(max, format), xLabels(starts.map((start) => shortLabel(start, report.bucket))), marks),
    h("figcaption", { class: "muted" }, `${t(`rep.m.${report.measure}`)}${unit}`),
    legend(groups));
}

// Attainment per tier as bars against the floor: a tier below its floor is marked late.
function attainmentChart(tiers) {
  const shown = tiers.filter((tier) => tier.attainment !== null);
  if (!shown.length) return h("p", { class: "muted" }, t("sup.chart_empty"));
  const step = (W - LEFT - RIGHT) / shown.length;
  const bar = Math.min(step / 2, 48);
  const y = (v) => H - BOTTOM - (H - TOP - BOTTOM) * v;
  return h("figure", {}, svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": t("rep.fair.attainment") },
    yAxis(1, percent), xLabels(shown.map((tier) => tier.tier)),
    shown.map((tier, i) => [
      svg("rect", { x: LEFT + i * step + (step - bar) / 2, y: y(tier.attainment), width: bar, height: H - BOTTOM - y(tier.attainment),
        class: tier.below_floor ? "bar late" : "bar" }, svg("title", {}, `${tier.tier}: ${percent(tier.attainment)}`)),
      svg("line", { x1: LEFT + i * step + (step - bar * 1.5) / 2, x2: LEFT + i * step + (step + bar * 1.5) / 2, y1: y(tier.floor), y2: y(tier.floor), class: "floor" },
        svg("title", {}, `${t("rep.fair.floor")} ${percent(tier.floor)}`)),
    ])),
  h("ul", { class: "legend" }, h("li", {}, t("rep.fair.attainment")), h("li", {}, `— ${t("rep.fair.floor")}`)));
}

// Campaigns, for supervisors: each with its status and results (recipients sent, skipped
// by reason, delivered, failed, replied, opted out), a form for a new one (a saved
// segment, the channel, the words per language, the rate), and start and cancel.
import { get, post } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, formatNumber, formatTime } from "./i18n.js";
import { channelName, purposeName } from "./events.js";

const CHANNELS = ["email", "sms", "api"];

export class CampaignsView {
  constructor(root) {
    this.root = root;
  }

  async load() {
    const [campaigns, segments] = await Promise.all([get("/api/v1/campaigns"), get("/api/v1/segments")]);
    this.segments = segments.items;
    const shown = await Promise.all(campaigns.items.map((c) => get(`/api/v1/campaigns/${c.id}`)));
    replace(this.root, h("h1", {}, t("camp.title")), this.form(),
      shown.length ? h("table", { class: "list", id: "campaigns" },
        h("thead", {}, h("tr", {}, ["camp.name", "camp.channel", "camp.status", "camp.sent", "camp.skipped", "camp.delivered",
          "camp.failed", "camp.replied", "camp.opted_out", ""].map((k) => h("th", {}, k ? t(k) : "")))),
        h("tbody", {}, shown.map((c) => this.row(c)))) : h("p", { class: "muted" }, t("camp.none")));
  }

  row(c) {
    const r = c.results;
    const skipped = h("ul", { class: "plain muted reasons" },
      Object.entries(r.skipped_by_reason).map(([why, n]) => h("li", {}, `${why}: ${formatNumber(n)}`)));
    const act = (what) => h("button", { type: "button", class: "link", dataset: { act: what },
      onclick: () => this.act(c.id, what) }, t(`camp.${what}`));
    return h("tr", { dataset: { id: c.id } },
      h("td", {}, c.name, h("div", { class: "muted" }, c.started_at ? formatTime(c.started_at) : t("camp.draft"))),
      h("td", {}, `${channelName(c.channel)} · ${purposeName(c.purpose)}`),
      h("td", { class: "status" }, t(`camp.status_${c.status}`),
        c.status === "running" ? h("div", { class: "muted" }, t("camp.pending", { n: formatNumber(r.pending) })) : null),
      h("td", {}, formatNumber(r.sent)), h("td", {}, formatNumber(r.skipped), skipped),
      h("td", {}, formatNumber(r.delivered)), h("td", {}, formatNumber(r.failed)),
      h("td", {}, formatNumber(r.replied)), h("td", {}, formatNumber(r.opted_out)),
      h("td", {}, c.status === "draft" ? act("start") : null, ["draft", "running"].includes(c.status) ? [" ", act("cancel")] : null));
  }

  form() {
    const field = (key, control) => h("label", {}, t(`camp.${key}`), control);
    const texts = ["de", "en"].map((lang) => h("fieldset", {}, h("legend", {}, lang.toUpperCase()),
      field("subject", h("input", { name: `subject_${lang}`, maxlength: 300 })),
      field("text", h("textarea", { name: `text_${lang}`, rows: 3, maxlength: 5000, required: lang === "de" }))));
    const form = h("form", { class: "campaign-form", id: "campaign-form", onsubmit: (e) => { e.preventDefault(); this.create(form); } },
      h("h2", {}, t("camp.new")),
      field("name", h("input", { name: "name", required: true, maxlength: 200 })),
      field("segment", h("select", { name: "segment_id", required: true },
        this.segments.map((s) => h("option", { value: s.id }, s.name)))),
      field("channel", h("select", { name: "channel" }, CHANNELS.map((c) => h("option", { value: c }, channelName(c))))),
      field("purpose", h("select", { name: "purpose" }, ["marketing", "service"].map((p) => h("option", { value: p }, purposeName(p))))),
      field("department", h("input", { name: "department", value: "marketing", maxlength: 100 })),
      field("queue", h("input", { name: "queue", maxlength: 60 })),
      field("rate", h("input", { name: "rate_per_minute", type: "number", min: 1, max: 60000, value: 600 })),
      texts, h("button", { type: "submit", class: "primary" }, t("camp.create")));
    return this.segments.length ? form : h("p", { class: "muted" }, t("camp.no_segments"));
  }

  async create(form) {
    const data = new FormData(form);
    const words = {};
    for (const lang of ["de", "en"]) {
      const text = String(data.get(`text_${lang}`) || "").trim();
      if (text) words[lang] = { text, subject: String(data.get(`subject_${lang}`) || "").trim() || null };
    }
    try {
      await post("/api/v1/campaigns", {
        name: data.get("name"), segment_id: data.get("segment_id"), channel: data.get("channel"), purpose: data.get("purpose"),
        department: data.get("department") || "marketing", queue: data.get("queue") || null,
        rate_per_minute: Number(data.get("rate_per_minute")), texts: words,
      });
      toast(t("camp.created"));
      await this.load();
    } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  }

  async act(id, what) {
    try {
      await post(`/api/v1/campaigns/${id}/${what}`);
      await this.load();
    } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  }
}

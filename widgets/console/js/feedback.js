// The R&D view: what customers said about products, across channels, as agents and rules
// marked it; counted by product, theme and channel and per week, newest first, each with
// a link to its conversation (which opens for whoever may open it).
import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { t, formatNumber, formatTime } from "./i18n.js";
import { channelBadge } from "./inbox.js";
import { channelName } from "./events.js";

export class FeedbackView {
  constructor(root) {
    this.root = root;
    this.filters = {};
  }

  static async reads() {
    try { return (await get("/api/v1/feedback/access")).reads; } catch { return false; }
  }

  async load() {
    const query = new URLSearchParams(Object.entries(this.filters).filter(([, v]) => v));
    const found = await get(`/api/v1/feedback?${query}`);
    replace(this.root, h("h1", {}, t("fb.title")), this.form(),
      h("div", { class: "fb-counts" },
        ["product", "theme", "channel"].map((by) => this.counted(by, found.counts[by]))),
      this.weeks(found.weeks),
      found.items.length
        ? h("ul", { class: "plain fb-items", id: "feedback-items" }, found.items.map((i) => h("li", { class: "fb-item", dataset: { message: i.message_id } },
          h("div", { class: "msg-head" }, channelBadge(i.channel), " ", h("strong", {}, i.product), i.theme ? ` · ${i.theme}` : "", " ",
            h("time", { datetime: i.at }, formatTime(i.at)), " ", h("span", { class: "muted" }, i.customer.name || "")),
          h("p", { class: "fb-text" }, i.text),
          h("a", { href: `#/c/${i.conversation_id}` }, t("fb.open")))))
        : h("p", { class: "muted" }, t("fb.none")));
  }

  form() {
    const input = (name) => h("input", { name, value: this.filters[name] || "", maxlength: 100, "aria-label": t(`fb.${name}`), placeholder: t(`fb.${name}`) });
    const form = h("form", { class: "inline-edit fb-filter", onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(form);
      this.filters = { product: data.get("product"), theme: data.get("theme"), channel: data.get("channel") };
      this.load();
    } }, input("product"), input("theme"),
      h("select", { name: "channel", "aria-label": t("fb.channel") }, h("option", { value: "" }, t("fb.all_channels")),
        ["email", "sms", "whatsapp", "voice", "fax", "chat", "api"].map((c) => h("option", { value: c, selected: this.filters.channel === c }, channelName(c)))),
      h("button", { type: "submit" }, t("fb.filter")));
    return form;
  }

  counted(by, rows) {
    return h("section", { class: "card", "aria-label": t(`fb.by_${by}`) }, h("h2", {}, t(`fb.by_${by}`)),
      rows.length ? h("table", { class: "list", id: `fb-by-${by}` }, h("tbody", {}, rows.map((r) => h("tr", {},
        h("td", {}, by === "channel" ? channelName(r.value) : r.value || "–"), h("td", { class: "num" }, formatNumber(r.count))))))
        : h("p", { class: "muted" }, "–"));
  }

  weeks(rows) {
    if (!rows.length) return null;
    const most = Math.max(...rows.map((r) => r.count));
    return h("section", { class: "card", "aria-label": t("fb.weeks") }, h("h2", {}, t("fb.weeks")),
      h("table", { class: "list fb-weeks" }, h("tbody", {}, rows.map((r) => h("tr", {},
        h("td", {}, t("fb.week_of", { date: r.week })),
        h("td", {}, h("meter", { min: 0, max: most, value: r.count, "aria-label": formatNumber(r.count) })),
        h("td", { class: "num" }, formatNumber(r.count)))))));
  }
}

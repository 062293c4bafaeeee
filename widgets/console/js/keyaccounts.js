// "My key accounts": the customers the signed-in agent manages, each with its open
// conversations, the last contact and the revenue (GET /api/v1/agents/{me}/key-accounts).
import { get } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { state } from "./state.js";
import { channelBadge, tierBadge } from "./inbox.js";
import { revenue } from "./sidebar.js";

export class KeyAccountsView {
  constructor(root) {
    this.root = root;
    this.pending = null;
  }

  // The accounts, or null when the hub does not answer (the nav link then stays hidden).
  static async count() {
    try { return (await get(`/api/v1/agents/${state.me.id}/key-accounts`)).items.length; } catch { return 0; }
  }

  async load() {
    const { items } = await get(`/api/v1/agents/${state.me.id}/key-accounts`);
    const rows = items.map((a) => h("tr", { class: "account-row", dataset: { id: a.id } },
      h("th", { scope: "row" }, h("span", { class: "account-name" }, a.organisation || a.name || t("common.none")),
        a.organisation && a.name ? h("span", { class: "muted" }, ` · ${a.name}`) : null, " ", tierBadge(a.tier)),
      h("td", { class: "open-list", dataset: { label: t("ka.open") } }, a.open_conversations.length
        ? h("ul", { class: "plain" }, a.open_conversations.map((c) => h("li", {},
          c.visible ? h("a", { href: `#/c/${c.id}` }, channelBadge(c.channel), " ", formatTime(c.last_message_at))
            : [channelBadge(c.channel), " ", formatTime(c.last_message_at), " ", h("span", { class: "muted" }, `(${t("ka.not_visible")})`)])))
        : h("span", { class: "muted" }, t("ka.no_open"))),
      h("td", { dataset: { label: t("ka.last_contact") } }, formatTime(a.last_contact_at)),
      h("td", { dataset: { label: t("ka.revenue") } }, revenue(a.revenue))));
    replace(this.root, h("section", { class: "card", "aria-labelledby": "ka-title" },
      h("h2", { id: "ka-title" }, t("ka.title")),
      items.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "accounts" },
          h("thead", {}, h("tr", {}, ["account", "open", "last_contact", "revenue"].map((k) => h("th", { scope: "col" }, t(`ka.${k}`))))),
          h("tbody", {}, rows)))
        : h("p", { class: "muted" }, t("ka.none"))));
  }

  refresh() {
    if (this.pending) return;
    this.pending = setTimeout(async () => {
      this.pending = null;
      try { await this.load(); } catch (err) { toast(err.message, "error"); }
    }, 300);
  }
}

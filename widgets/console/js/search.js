// Search on every page: a box in the header ("/" focuses it), results as you type
// (debounced), matched words marked, facets to narrow by, arrow keys through the hits;
// a hit opens its conversation at the message. A search can be saved as a view: the
// inbox sidebar lists the views with a live count; its owner renames one, shares it or
// saves the current search over it.
import { get, post, patch, del } from "./api.js";
import { h, replace, announce, toast } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { state } from "./state.js";
import { channelBadge } from "./inbox.js";

const DEBOUNCE_MS = 250;
const FACETS = ["channel", "status", "tier", "queue", "department", "tag", "key_account"];

// The hub marks the words found with <mark>…</mark> in an otherwise escaped snippet. It
// becomes text nodes and <mark> elements here: no HTML from the hub is ever parsed.
export function snippetNodes(snippet) {
  const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&amp;/g, "&");
  return snippet.split(/(<mark>[^<]*<\/mark>)/).filter(Boolean).map((part) => {
    const marked = part.match(/^<mark>([^<]*)<\/mark>$/);
    return marked ? h("mark", {}, unescape(marked[1])) : unescape(part);
  });
}

function params(q, filters) {
  const p = new URLSearchParams();
  if (q) p.set("q", q);
  for (const [name, values] of Object.entries(filters)) for (const v of values) p.append(name, v);
  return p;
}

export class Search {
  constructor({ open }) {
    this.open = open;
    this.filters = {};
    this.items = [];
    this.active = -1;
    this.timer = null;
    this.seq = 0;
    this.input = h("input", {
      type: "search", id: "search", class: "search-input", placeholder: t("search.placeholder"), autocomplete: "off",
      role: "combobox", "aria-expanded": "false", "aria-controls": "search-results", "aria-label": t("search.label"),
      "aria-keyshortcuts": "/", oninput: () => this.later(), onkeydown: (e) => this.key(e),
      onfocus: () => { if (this.panel.hidden && (this.input.value.trim() || Object.keys(this.filters).length)) this.run(); },
    });
    this.status = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });
    this.facetsEl = h("div", { class: "search-facets", id: "search-facets", "aria-label": t("search.facets"), role: "group" });
    this.list = h("ul", { id: "search-results", role: "listbox", "aria-label": t("search.results") });
    this.save = h("button", { type: "button", id: "search-save", onclick: () => this.saveDialog() }, t("search.save"));
    this.panel = h("div", { class: "search-panel", id: "search-panel", hidden: true },
      h("div", { class: "search-bar" }, this.save,
        h("button", { type: "button", onclick: () => this.close() }, t("help.close"))),
      this.facetsEl, this.list, this.status);
    this.root = h("div", { class: "search", role: "search" }, this.input, this.panel);
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey && !document.querySelector("dialog[open]")) {
        e.preventDefault();
        this.input.focus();
        this.input.select();
      }
    });
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  // Show a saved view: its words and filters, run at once.
  show(view) {
    this.input.value = view.q || "";
    this.filters = Object.fromEntries(Object.entries(view.filters || {}).map(([k, v]) => [k, [...v]]));
    this.run();
    this.input.focus();
  }

  async run() {
    const q = this.input.value.trim();
    if (!q && !Object.keys(this.filters).length) return this.close();
    const seq = ++this.seq;
    let found;
    try {
      found = await get(`/api/v1/search?${params(q, this.filters)}`);
    } catch (err) {
      if (seq !== this.seq) return;
      this.items = [];
      replace(this.list, h("li", { class: "empty", role: "alert" }, err.message));
      this.reveal();
      return;
    }
    if (seq !== this.seq) return; // a later search has been started meanwhile
    this.items = found.items;
    this.active = -1;
    this.renderFacets(found.facets || {});
    replace(this.list, this.items.length ? this.items.map((item, i) => this.row(item, i))
      : h("li", { class: "empty" }, t("search.none")));
    this.status.textContent = t("search.count", { n: this.items.length });
    this.reveal();
  }

  reveal() {
    this.panel.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.panel.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  row(item, i) {
    const who = item.customer.name || item.customer.organisation || t("side.customer");
    return h("li", { id: `hit-${i}`, role: "option", class: "hit", "aria-selected": "false", dataset: { conversation: item.conversation_id || "" },
      onclick: () => this.choose(i), onmousedown: (e) => e.preventDefault() },
      h("div", { class: "hit-head" }, item.channel ? channelBadge(item.channel) : null,
        // a conversation's own words (its tags, department, subject) say so: no message opens
        !item.channel || item.kind === "conversation" ? h("span", { class: "badge" }, t(`search.kind_${item.kind}`)) : null,
        " ", h("strong", {}, who), " ", h("time", { datetime: item.at }, formatTime(item.at))),
      h("div", { class: "hit-snippet" }, snippetNodes(item.snippet || "")));
  }

  renderFacets(facets) {
    const groups = FACETS.filter((name) => Object.keys(facets[name] || {}).length || this.filters[name]?.length).map((name) => {
      const values = { ...(facets[name] || {}) };
      for (const v of this.filters[name] || []) values[v] ??= 0;
      return h("fieldset", { class: "facet" }, h("legend", {}, t(`search.facet_${name}`)),
        Object.entries(values).map(([value, n]) => {
          const on = (this.filters[name] || []).includes(value);
          return h("button", { type: "button", class: on ? "on" : "", "aria-pressed": on ? "true" : "false",
            dataset: { facet: name, value }, onclick: () => this.toggle(name, value) }, `${this.label(name, value)} (${n})`);
        }));
    });
    replace(this.facetsEl, groups);
  }

  label(name, value) {
    if (name === "channel") return t(`channel.${value}`);
    if (name === "key_account") return t(value === "true" ? "common.yes" : "common.no");
    return value;
  }

  toggle(name, value) {
    const now = new Set(this.filters[name] || []);
    if (now.has(value)) now.delete(value); else now.add(value);
    if (now.size) this.filters[name] = [...now]; else delete this.filters[name];
    this.run();
  }

  key(e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!this.items.length) return;
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : -1) + this.items.length) % this.items.length;
      for (const [i, el] of [...this.list.children].entries()) el.setAttribute("aria-selected", i === this.active ? "true" : "false");
      this.input.setAttribute("aria-activedescendant", `hit-${this.active}`);
      this.list.children[this.active]?.scrollIntoView({ block: "nearest" });
    } else if (e.key === "Enter") {
      e.preventDefault();
      clearTimeout(this.timer);
      if (this.active >= 0) this.choose(this.active); else this.run();
    } else if (e.key === "Escape") {
      e.preventDefault(); // closes the panel; Chromium would also empty a search box, and the search is kept
      this.close();
    }
  }

  choose(i) {
    const item = this.items[i];
    if (!item?.conversation_id) return;
    this.close();
    this.open(item.conversation_id, item.message_id);
  }

  // The words and filters on screen, as a saved view holds them.
  current() {
    return { q: this.input.value.trim(), filters: Object.fromEntries(Object.entries(this.filters).map(([k, v]) => [k, [...v]])) };
  }

  saveDialog() {
    this.viewDialog(null);
  }

  // Save the search as a new view, or (``view``) change one of the agent's views: its
  // name, whom it is shared with, and, if asked, the current search saved over its own.
  viewDialog(view) {
    const now = this.current();
    const name = h("input", { id: "view-name", required: true, maxlength: 80, value: view ? view.name : now.q });
    const teams = [...new Set([...(state.agents.get(state.me.id)?.teams || []), ...(view?.team ? [view.team] : [])])];
    const team = h("select", { id: "view-team" }, h("option", { value: "" }, t("views.private")),
      teams.map((tm) => h("option", { value: tm, selected: view?.team === tm }, t("views.team", { team: tm }))));
    const searching = Boolean(now.q || Object.keys(now.filters).length);
    const over = h("input", { type: "checkbox", id: "view-replace", disabled: !searching });
    const described = [now.q, ...Object.entries(now.filters).map(([k, v]) => `${t(`search.facet_${k}`)}: ${v.join(", ")}`)]
      .filter(Boolean).join(" · ");
    const dlg = h("dialog", { id: "save-view", "aria-labelledby": "save-view-title" },
      h("form", { method: "dialog", onsubmit: async (e) => {
        e.preventDefault();
        try {
          if (view) {
            const change = { name: name.value, team: team.value || null };
            if (over.checked) Object.assign(change, now);
            await patch(`/api/v1/saved-views/${view.id}`, change);
          } else {
            await post("/api/v1/saved-views", { name: name.value, ...now, team: team.value || null });
          }
          dlg.close();
          announce(t(view ? "views.changed" : "views.saved", { name: name.value.trim() }));
          document.dispatchEvent(new CustomEvent("views-changed"));
        } catch (err) { toast(err.message, "error"); }
      } },
      h("h2", { id: "save-view-title" }, view ? t("views.edit_title", { name: view.name }) : t("views.save_title")),
      h("label", {}, t("views.name"), " ", name), h("label", {}, t("views.share"), " ", team),
      view ? h("label", { class: "check" }, over, " ", searching ? t("views.replace", { search: described }) : t("views.replace_none")) : null,
      h("div", { class: "actions" }, h("button", { type: "submit", id: "view-save" }, t("common.save")),
        h("button", { type: "button", onclick: () => dlg.close() }, t("common.cancel")))));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
    name.focus();
  }
}

// The saved views in the inbox sidebar, each with its live count (refreshed, at most
// every few seconds, when a live event says something changed).
export class SavedViews {
  constructor(search) {
    this.search = search;
    this.root = h("section", { class: "saved-views", id: "saved-views", "aria-labelledby": "saved-views-title" });
    this.views = [];
    this.pending = null;
    document.addEventListener("views-changed", () => this.load());
  }

  async load() {
    try { this.views = (await get("/api/v1/saved-views")).items; } catch (err) { return; }
    this.render();
    await this.counts();
  }

  render() {
    replace(this.root, this.views.length ? [h("h2", { id: "saved-views-title" }, t("views.title")),
      h("ul", {}, this.views.map((v) => h("li", {},
        h("button", { type: "button", class: "view", dataset: { view: v.id }, onclick: () => this.search.show(v) },
          v.name, v.team ? h("span", { class: "muted" }, ` · ${v.team}`) : null, " ",
          h("span", { class: "count", id: `view-count-${v.id}`, "aria-label": t("views.count") }, "…")),
        v.owner_id === state.me.id ? h("button", { type: "button", class: "link", dataset: { edit: v.id }, "aria-label": t("views.edit", { name: v.name }),
          title: t("views.edit", { name: v.name }), onclick: () => this.search.viewDialog(v) }, "✎") : null,
        v.owner_id === state.me.id ? h("button", { type: "button", class: "link", "aria-label": t("views.delete", { name: v.name }),
          onclick: async () => { await del(`/api/v1/saved-views/${v.id}`).catch((err) => toast(err.message, "error")); this.load(); } }, "×") : null)))]
      : []);
  }

  async counts() {
    await Promise.all(this.views.map(async (v) => {
      const el = document.getElementById(`view-count-${v.id}`);
      try {
        const found = await get(`/api/v1/search/count?${params(v.q, v.filters || {})}`);
        if (el) el.textContent = found.capped ? `${found.count}+` : String(found.count);
      } catch (err) { if (el) el.textContent = "!"; }
    }));
  }

  refresh() {
    if (!this.views.length || this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.counts(); }, 1000);
  }
}

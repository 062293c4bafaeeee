// One conversation: the customer's cross-channel timeline, the reply box, the actions,
// who else is viewing or typing, and the customer sidebar.
import { get, post } from "./api.js";
import { modal } from "./modal.js";
import { h, replace, toast } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { state, agentName, present } from "./state.js";
import { channelBadge, priorityBadge, tierBadge } from "./inbox.js";
import { Composer } from "./composer.js";
import { Sidebar } from "./sidebar.js";
import { faxView } from "./fax.js";
import { eventLabel } from "./events.js";
import { tagEditor } from "./tags.js";

const IMAGE = /^image\/(png|jpeg|gif|webp)$/;

export class ConversationView {
  constructor(root, { live, onChange }) {
    this.root = root;
    this.live = live;
    this.onChange = onChange;
    this.id = null;
    this.pending = null;
    this.heartbeat = setInterval(() => this.announceViewing(true), 10000);
    setInterval(() => this.renderPresence(), 2000);
  }

  async show(id) {
    if (this.id && this.id !== id) this.announceViewing(false);
    this.id = id;
    this.older = [];
    this.cursor = null;
    await this.load();
    this.announceViewing(true);
  }

  leave() {
    if (this.id) this.announceViewing(false);
    this.id = null;
  }

  announceViewing(on) {
    if (this.id) this.live.send({ type: "viewing", conversation_id: this.id, on });
  }

  async load() {
    const id = this.id;
    let conv;
    try {
      conv = await get(`/api/v1/conversations/${id}`);
    } catch (err) {
      replace(this.root, h("p", { class: "empty", role: "alert" }, err.message));
      return;
    }
    const [customer, timeline] = await Promise.all([
      get(`/api/v1/customers/${conv.customer_id}`),
      get(`/api/v1/customers/${conv.customer_id}/timeline?limit=100`),
    ]);
    if (id !== this.id) return; // another conversation was opened meanwhile
    this.conv = conv;
    this.customer = customer;
    this.cursor = timeline.next;
    if (this.composer?.conv.id === id) this.composer.update(conv, customer); // the draft stays
    else this.composer = new Composer({ conversation: conv, customer, live: this.live, onSent: () => this.refresh() });
    this.render(timeline.items);
  }

  refresh() {
    if (this.pending || !this.id) return;
    this.pending = setTimeout(() => { this.pending = null; this.load(); }, 120);
  }

  // A live event renders the view again. For the conversation on screen the timeline
  // stays in the page and only its changed items are rebuilt: an opened HTML part (an
  // iframe, which leaving the page would reload), shown quoted text and the scroll
  // position survive the event.
  render(items) {
    const conv = this.conv;
    const rich = new Map(conv.messages.map((m) => [m.id, m]));
    const all = [...items, ...this.older].reverse(); // oldest first
    const same = this.rendered === conv.id && this.list?.isConnected;
    if (!same) {
      this.list = h("ol", { class: "timeline" });
      this.rendered_items = new Map();
    }
    this.list.setAttribute("aria-label", t("conv.timeline", { name: this.customer.name || "" }));
    const grew = this.syncTimeline(all, rich);
    this.presence = h("p", { class: "presence-line", id: "presence-line", "aria-live": "polite" });
    const header = h("header", { class: "conv-header" },
      h("h2", {}, channelBadge(conv.channel), " ", h("span", { class: "customer-name" }, this.customer.name || this.customer.identities[0]?.value || t("common.none")),
        " ", tierBadge(this.customer.tier), " ", priorityBadge(conv.priority)),
      h("p", { class: "conv-state" }, this.stateText()),
      tagEditor(conv, () => { this.onChange(); this.load(); }),
      this.presence,
      h("div", { class: "conv-actions" }, this.actions()));
    const older = this.cursor ? h("button", { type: "button", class: "link", onclick: () => this.loadOlder() }, t("conv.older")) : null;
    const composer = conv.status === "open" ? this.composer.el : null;
    const sidebar = new Sidebar(this.customer, { onSaved: () => this.refresh(), timeline: all, onGone: () => { this.onChange(); location.hash = "#/inbox"; } }).el;
    const kept = this.keepInputs();
    if (same) {
      const main = this.list.parentElement;
      for (const el of [...main.children]) if (el !== this.list) el.remove();
      this.list.before(...[header, older].filter(Boolean));
      if (composer) this.list.after(composer);
      for (const el of [...this.root.children]) if (el !== main) el.remove();
      main.after(sidebar);
    } else {
      replace(this.root, h("div", { class: "conv-main" }, header, older, this.list, composer), sidebar);
    }
    this.renderPresence();
    if (!kept.focused && grew) this.list.lastElementChild?.scrollIntoView({ block: "end" });
    kept.restore();
  }

  // The timeline's items in order, each rebuilt only when what it shows changed; true
  // when its last item is new (the view then scrolls to it).
  syncTimeline(all, rich) {
    const before = this.rendered_items;
    const after = new Map();
    const last = this.list.lastElementChild;
    const nodes = all.map((item) => {
      const key = `${item.type}:${item.id}`; // messages and events have ids of their own
      // a chat message shows which of its claims are the customer's identities now
      const shown = JSON.stringify([item, rich.get(item.id) ?? null, this.customer.identities]);
      const kept = before.get(key);
      const node = kept && kept.shown === shown ? kept.node : this.item(item, rich);
      after.set(key, { node, shown });
      return node;
    });
    const wanted = new Set(nodes);
    for (const el of [...this.list.children]) if (!wanted.has(el)) el.remove();
    nodes.forEach((node, i) => {
      if (this.list.children[i] !== node) this.list.insertBefore(node, this.list.children[i] ?? null);
    });
    this.rendered_items = after;
    return !last || this.list.lastElementChild !== last;
  }

  // A live event re-renders the view: what the agent was typing into the tag and the
  // customer panel's fields (and where the focus was) survives it.
  keepInputs() {
    const same = this.rendered === this.conv.id; // another conversation starts afresh
    this.rendered = this.conv.id;
    if (!same) return { focused: null, restore: () => {} };
    const values = [...this.root.querySelectorAll("input[id]:not([type=file]):not([type=checkbox]), select[id]")]
      .map((el) => [el.id, el.value]);
    const active = document.activeElement;
    const focused = active && active.id && this.root.contains(active) ? active.id : null;
    return {
      focused,
      restore: () => {
        for (const [id, value] of values) {
          const el = document.getElementById(id);
          if (!el || !this.root.contains(el) || !value || el.value === value) continue;
          if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === value)) continue;
          el.value = value;
        }
        if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
      },
    };
  }

  stateText() {
    const conv = this.conv;
    if (conv.status !== "open") return t("conv.closed");
    if (conv.assignee_id) return t("conv.assigned_to", { name: agentName(conv.assignee_id) });
    if (conv.offered_to) return t("conv.offered_to", { name: agentName(conv.offered_to) });
    return t("conv.waiting", { queue: conv.queue || "–" });
  }

  actions() {
    const conv = this.conv;
    const button = (key, handler, primary = false) =>
      h("button", { type: "button", class: primary ? "primary" : "", id: `act-${key}`, onclick: handler }, t(`conv.${key}`));
    if (conv.status !== "open") return [button("reopen", () => this.act("reopen"))];
    const out = [];
    if (conv.offered_to === state.me.id) out.push(button("accept", () => this.act("accept"), true));
    out.push(button("transfer", () => this.transferDialog()), button("snooze", () => this.snoozeDialog()),
      button("close", () => this.act("close")));
    return out;
  }

  item(item, rich) {
    const mine = item.conversation_id === this.conv.id || item.subject_id === this.conv.id;
    if (item.type === "message") {
      const m = rich.get(item.id) || item;
      const out = item.direction === "out";
      const who = out ? (m.sender_name || item.sender?.name) : (item.sender?.name || item.sender?.value || "");
      return h("li", { class: `msg ${out ? "out" : "in"}${mine ? " this" : " other"}`, dataset: { id: item.id } },
        h("div", { class: "msg-head" }, channelBadge(item.channel), " ", h("strong", {}, who), " ",
          h("time", { datetime: item.at }, formatTime(item.at)), mine ? null : h("span", { class: "muted" }, " · ", t("channel." + item.channel))),
        item.subject ? h("div", { class: "msg-subject" }, item.subject) : null,
        h("div", { class: "msg-text", id: `text-${item.id}` }, item.text),
        m.full_text ? quotedToggle(item.id, item.text, m.full_text) : null,
        m.html ? this.htmlPart(m.html) : null,
        item.channel === "fax" && item.direction !== "out" && m.meta ? faxView(m) : m.attachments?.length ? this.files(m.attachments) : null,
        item.channel === "chat" && m.meta ? chatFacts(m.meta, this.customer, (kind, value) => this.confirmClaim(kind, value)) : null,
        /^https?:\/\//.test(m.meta?.recording_url || "") ? h("p", {}, h("a", { href: m.meta.recording_url, rel: "noopener noreferrer", target: "_blank" }, "▶ recording")) : null,
        m.delivery ? this.delivery(m) : null,
        out ? null : h("button", { type: "button", class: "link feedback-mark", dataset: { message: item.id },
          onclick: () => this.markFeedback(item.id) }, t("fb.mark")));
    }
    const data = item.data || {};
    const label = eventLabel(item.action, data);
    return h("li", { class: `event${item.action.includes("note") || item.action.includes("called_back") ? " note" : ""}${mine ? " this" : ""}` },
      h("span", { class: "event-label" }, label), " ", h("time", { datetime: item.at }, formatTime(item.at)),
      data.text ? h("div", { class: "note-text" }, data.text) : null);
  }

  htmlPart(html) {
    const frame = h("iframe", { sandbox: "", title: t("conv.html"), class: "html-part", referrerpolicy: "no-referrer" });
    frame.srcdoc = html; // sandboxed: no scripts, no same-origin access
    let inlined = false; // the inline images are fetched once, when the part is first opened
    const part = h("details", { ontoggle: () => {
      if (!part.open || inlined) return;
      inlined = true;
      withInlineImages(html).then((shown) => { if (shown !== html) frame.srcdoc = shown; });
    } }, h("summary", {}, t("conv.html")), frame);
    return part;
  }

  files(files) {
    return h("ul", { class: "files", "aria-label": t("conv.attachments") }, files.map((f) => {
      const url = `/api/v1/attachments/${f.id}`;
      return h("li", {}, IMAGE.test(f.content_type) ? h("img", { src: url, alt: f.filename, class: "thumb" }) : null,
        h("a", { href: url, download: f.filename }, f.filename));
    }));
  }

  delivery(m) {
    const d = m.delivery;
    const failed = d.status === "failed" || d.status === "undelivered";
    return h("div", { class: `delivery ${d.status}` }, "✓ ", t(`delivery.${d.status}`),
      d.error ? h("span", { class: "reason" }, ` – ${d.error}`) : null,
      failed ? h("button", { type: "button", class: "link", onclick: () => this.retry(m.id) }, t("delivery.retry")) : null);
  }

  renderPresence() {
    if (!this.presence || !this.id) return;
    const viewing = present(state.viewers, this.id);
    const typing = present(state.typing, this.id);
    const parts = [];
    if (viewing.length) parts.push(t("conv.viewing", { names: viewing.join(", ") }));
    if (typing.length) parts.push(t("conv.typing", { names: typing.join(", ") }));
    const text = parts.join(" · ");
    if (this.presence.textContent !== text) this.presence.textContent = text;
  }

  async loadOlder() {
    const page = await get(`/api/v1/customers/${this.customer.id}/timeline?limit=100&before=${encodeURIComponent(this.cursor)}`);
    this.older.push(...page.items);
    this.cursor = page.next;
    this.load();
  }

  async act(name, body) {
    try {
      await post(`/api/v1/conversations/${this.id}/${name}`, body);
      this.onChange();
      await this.load();
    } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  }

  // A contact the visitor typed, checked by the agent: it becomes an identity (audited).
  async confirmClaim(kind, value) {
    try {
      await post(`/api/v1/customers/${this.customer.id}/identities`, { kind, value });
      toast(t("chat.claim_added", { value }));
      await this.load();
    } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  }

  // A customer's message as product feedback, for the R&D view (a product and a theme).
  markFeedback(messageId) {
    modal(t("fb.mark_title"), [
      h("label", {}, t("fb.product"), h("input", { name: "product", id: "fb-product", required: true, maxlength: 100 })),
      h("label", {}, t("fb.theme"), h("input", { name: "theme", id: "fb-theme", maxlength: 100 })),
    ], t("fb.mark_submit"), async (data) => {
      try {
        await post(`/api/v1/messages/${messageId}/feedback`, { product: data.get("product"), theme: data.get("theme") || null });
        toast(t("fb.marked"));
        await this.load();
      } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
    });
  }

  async retry(messageId) {
    try { await post(`/api/v1/conversations/${this.id}/messages/${messageId}/retry`); this.refresh(); }
    catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  }

  dialog(title, fields, submitLabel, onSubmit) {
    const form = h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, title), fields,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: () => dlg.close() }, t("common.cancel")),
        h("button", { type: "submit", class: "primary" }, submitLabel)));
    const dlg = h("dialog", { "aria-label": title }, form);
    form.addEventListener("submit", async (e) => { e.preventDefault(); dlg.close(); await onSubmit(new FormData(form)); });
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  }

  transferDialog() {
    const queues = state.queues.map((q) => q.queue).filter((q) => !q.startsWith("("));
    this.dialog(t("transfer.title"), [
      h("label", {}, t("transfer.queue"), h("select", { name: "queue" }, queues.map((q) => h("option", { value: q, selected: q === this.conv.queue }, q)))),
      h("label", {}, t("transfer.agent"), h("select", { name: "agent_id" }, h("option", { value: "" }, t("transfer.any")),
        [...state.agents.values()].filter((a) => a.id !== state.me.id && a.active !== false).map((a) => h("option", { value: a.id }, a.name)))),
      h("label", {}, t("transfer.note"), h("textarea", { name: "note", rows: 3 })),
    ], t("transfer.submit"), async (data) => {
      const body = { queue: data.get("queue") || undefined };
      if (data.get("agent_id")) body.agent_id = data.get("agent_id");
      if (data.get("note")) body.note = data.get("note");
      await this.act("transfer", body);
    });
  }

  snoozeDialog() {
    const inOneHour = new Date(Date.now() + 3600e3);
    const local = new Date(inOneHour.getTime() - inOneHour.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
    this.dialog(t("snooze.title"), [
      h("label", {}, t("snooze.title"), h("input", { type: "datetime-local", name: "until", value: local, required: true })),
    ], t("snooze.submit"), async (data) => {
      await this.act("snooze", { until: new Date(data.get("until")).toISOString() });
    });
  }
}

// The hub points an email's inline images (cid:) at their attachment URLs. The sandboxed
// frame has an opaque origin, so it would load them without the session cookie: the
// console fetches them itself and hands them over as data: URLs.
const INLINE_SRC = / src="(\/api\/v1\/attachments\/\d+)"/g;
async function withInlineImages(html) {
  const urls = [...new Set([...html.matchAll(INLINE_SRC)].map((m) => m[1]))];
  if (!urls.length) return html;
  const data = new Map(await Promise.all(urls.map(async (url) => [url, await dataUrl(url)])));
  return html.replace(INLINE_SRC, (whole, url) => (data.get(url) ? ` src="${data.get(url)}"` : whole));
}

async function dataUrl(url) {
  try {
    const resp = await fetch(url, { credentials: "same-origin" });
    const blob = resp.ok ? await resp.blob() : null;
    if (!blob || !IMAGE.test(blob.type)) return null;
    return await new Promise((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => resolve(null);
      reader.readAsDataURL(blob);
    });
  } catch { return null; }
}

// An email's visible text leaves out the quoted history; the full text is one click away.
function quotedToggle(id, visible, full) {
  const button = h("button", { type: "button", class: "link quoted-toggle", "aria-expanded": "false", "aria-controls": `text-${id}` },
    t("conv.show_quoted"));
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    document.getElementById(`text-${id}`).textContent = open ? full : visible;
    button.setAttribute("aria-expanded", String(open));
    button.textContent = t(open ? "conv.hide_quoted" : "conv.show_quoted");
  });
  return button;
}

// What the chat widget knows of a visitor's message: the page, an offline form's
// contact, and the contacts they typed: claims, never identities until an agent confirms
// one (one another customer's record holds can only be merged, once verified).
function chatFacts(meta, customer, confirm) {
  const facts = [];
  if (meta.page_title || meta.page_url) facts.push(t("chat.page", { page: meta.page_title || meta.page_url }));
  if (meta.offline) facts.push(t("chat.offline", { contact: [meta.reply_email, meta.reply_phone].filter(Boolean).join(", ") }));
  for (const kind of ["email", "phone"]) {
    const claimed = meta[`claimed_${kind}`];
    if (!claimed) continue;
    const held = / \(customer [^)]*\)$/;
    const value = claimed.replace(held, "");
    if ((customer?.identities || []).some((i) => i.kind === kind && i.value === value)) facts.push(t("chat.claim_added", { value }));
    else if (held.test(claimed)) facts.push(t("chat.claimed_held", { value: claimed }));
    else facts.push([t("chat.claimed", { value }), " ",
      h("button", { type: "button", class: "link", onclick: () => confirm(kind, value) }, t("chat.confirm_claim"))]);
  }
  return facts.length ? h("ul", { class: "chat-facts muted" }, ...facts.map((f) => h("li", {}, f))) : null;
}

// The reply box: a reply on the conversation's channel (or another of the customer's),
// or an internal note. "/" opens the canned responses, "@" (in a note) the colleagues.
// On WhatsApp outside the 24-hour window only an approved template goes: the text box
// gives way to the template picker (a template, its placeholders, the text it makes).
import { post, upload } from "./api.js";
import { h, replace, toast, announce } from "./dom.js";
import { t } from "./i18n.js";
import { state, agentName } from "./state.js";
import { TemplatePicker } from "./templates.js";

const CHANNEL_OF_IDENTITY = { email: "email", phone: "sms", fax: "fax", chat_visitor: "chat" };

export function fillPlaceholders(body, { customer, agent, conversation }) {
  const values = {
    "customer.name": customer?.name || "",
    "customer.organisation": customer?.organisation || "",
    "agent.name": agent?.name || "",
    "conversation.id": conversation?.id || "",
  };
  return body.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, key) => (key in values ? values[key] : whole));
}

export class Composer {
  constructor({ conversation, customer, onSent, live }) {
    this.conv = conversation;
    this.customer = customer;
    this.onSent = onSent;
    this.live = live;
    this.clientId = null; // the reply being sent, until the hub answered (send)
    this.mode = "reply";
    this.mentions = new Map(); // "@Name" -> agent id
    this.lastTyping = 0;
    this.text = h("textarea", { id: "composer-text", rows: 4, "aria-label": t("reply.label"),
      placeholder: t("reply.placeholder"), oninput: () => this.changed(), onkeydown: (e) => this.key(e) });
    this.channel = h("select", { id: "composer-channel", "aria-label": t("reply.channel"), onchange: () => this.checkWindow() },
      this.channels().map((c) => h("option", { value: c, selected: c === conversation.channel }, t(`channel.${c}`))));
    this.whatsapp = new TemplatePicker("composer");
    this.whatsapp.window.hidden = true;
    this.templateMode = false;
    this.popup = h("ul", { class: "popup", role: "listbox", hidden: true, id: "composer-popup" });
    this.tabs = h("div", { class: "tabs", role: "tablist" },
      this.tab("reply", t("reply.label")), this.tab("note", t("reply.note")));
    this.submit = h("button", { type: "submit", class: "primary", id: "composer-send" }, t("reply.send"));
    this.files = [];
    this.fileList = h("ul", { class: "chips", "aria-label": t("reply.files") });
    this.picker = h("input", { type: "file", id: "composer-file", multiple: true, class: "sr-only",
      onchange: () => this.attach() });
    this.attachLabel = h("label", { for: "composer-file", class: "button-like", tabindex: "0",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.picker.click(); } } },
      t("reply.attach"));
    this.channelRow = h("label", { class: "inline" }, t("reply.channel"), " ", this.channel);
    this.el = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.send(); } },
      this.tabs, this.whatsapp.window, this.whatsapp.box, h("div", { class: "composer-field" }, this.text, this.popup),
      this.fileList,
      h("div", { class: "composer-actions" }, h("span", { class: "inline" }, this.channelRow, this.picker, this.attachLabel), this.submit));
    this.checkWindow().catch((err) => toast(t("error.generic", { detail: err.message }), "error"));
  }

  // The conversation as it now stands (a live event loaded it again): what is being
  // written, picked or attached stays.
  update(conversation, customer) {
    this.conv = conversation;
    this.customer = customer;
    const chosen = this.channel.value;
    const channels = this.channels();
    if ([...this.channel.options].map((o) => o.value).join() !== channels.join()) {
      replace(this.channel, channels.map((c) => h("option", { value: c, selected: c === chosen }, t(`channel.${c}`))));
    }
    this.checkWindow().catch((err) => toast(t("error.generic", { detail: err.message }), "error"));
  }

  // WhatsApp: whether the window is open (free text) or only a template can go.
  async checkWindow() {
    const whatsapp = this.channel.value === "whatsapp" && this.mode === "reply" && this.customer?.id;
    this.whatsapp.window.hidden = !whatsapp;
    if (!whatsapp) return this.setTemplateMode(false);
    const open = await this.whatsapp.load(this.customer.id);
    if (this.channel.value === "whatsapp" && this.mode === "reply") this.setTemplateMode(!open); // still so
  }

  setTemplateMode(on) {
    this.templateMode = on;
    this.whatsapp.box.hidden = !on;
    this.text.parentElement.hidden = on;
    this.attachLabel.hidden = on || this.mode === "note";
  }

  tab(mode, label) {
    return h("button", { type: "button", role: "tab", class: "tab", id: `tab-${mode}`, "aria-selected": String(mode === "reply"),
      onclick: () => this.setMode(mode) }, label);
  }

  channels() {
    const found = new Set([this.conv.channel]);
    for (const identity of this.customer?.identities || []) {
      const channel = CHANNEL_OF_IDENTITY[identity.kind];
      if (channel) found.add(channel);
    }
    return [...found];
  }

  setMode(mode) {
    this.mode = mode;
    for (const tab of this.tabs.children) tab.setAttribute("aria-selected", String(tab.id === `tab-${mode}`));
    this.el.classList.toggle("note-mode", mode === "note");
    this.text.placeholder = t(mode === "note" ? "reply.note_placeholder" : "reply.placeholder");
    this.submit.textContent = t(mode === "note" ? "reply.add_note" : "reply.send");
    this.channelRow.hidden = mode === "note";
    this.attachLabel.hidden = mode === "note";
    this.closePopup();
    this.checkWindow();
    this.text.focus();
  }

  async attach() {
    for (const file of this.picker.files) {
      try {
        this.files.push(await upload(file));
      } catch (err) {
        toast(t("error.generic", { detail: err.message }), "error");
      }
    }
    this.picker.value = "";
    this.renderFiles();
  }

  renderFiles() {
    replace(this.fileList, this.files.map((f, n) => h("li", { class: "chip" }, f.filename, " ",
      h("button", { type: "button", class: "link", "aria-label": `${t("reply.remove")}: ${f.filename}`,
        onclick: () => { this.files.splice(n, 1); this.renderFiles(); } }, "×"))));
  }

  changed() {
    const now = Date.now();
    if (this.mode === "reply" && now - this.lastTyping > 3000) {
      this.lastTyping = now;
      this.live.send({ type: "typing", conversation_id: this.conv.id });
    }
    const word = this.currentWord();
    if (this.mode === "reply" && word.startsWith("/")) this.showCanned(word.slice(1).toLowerCase());
    else if (this.mode === "note" && word.startsWith("@")) this.showAgents(word.slice(1).toLowerCase());
    else this.closePopup();
  }

  currentWord() {
    const before = this.text.value.slice(0, this.text.selectionStart);
    const match = before.match(/(^|\s)([/@][^\s]*)$/);
    return match ? match[2] : "";
  }

  replaceWord(text) {
    const at = this.text.selectionStart;
    const before = this.text.value.slice(0, at).replace(/([/@][^\s]*)$/, "");
    this.text.value = before + text + this.text.value.slice(at);
    const caret = before.length + text.length;
    this.text.setSelectionRange(caret, caret);
    this.closePopup();
    this.text.focus();
  }

  showCanned(query) {
    const items = state.canned.filter((c) => c.shortcut.includes(query) || c.title.toLowerCase().includes(query)).slice(0, 8);
    this.showPopup(items.map((c) => ({ label: `/${c.shortcut} – ${c.title}`, pick: () =>
      this.replaceWord(fillPlaceholders(c.body, { customer: this.customer, agent: state.me, conversation: this.conv })) })));
  }

  showAgents(query) {
    const items = [...state.agents.values()].filter((a) => a.id !== state.me.id && a.name.toLowerCase().includes(query)).slice(0, 8);
    this.showPopup(items.map((a) => ({ label: a.name, pick: () => {
      this.mentions.set(`@${a.name}`, a.id);
      this.replaceWord(`@${a.name} `);
    } })));
  }

  showPopup(items) {
    this.choices = items;
    this.active = 0;
    if (!items.length) return this.closePopup();
    replace(this.popup, items.map((item, n) => h("li", { role: "option", id: `opt-${n}`, "aria-selected": String(n === 0),
      onmousedown: (e) => { e.preventDefault(); item.pick(); } }, item.label)));
    this.popup.hidden = false;
    this.text.setAttribute("aria-activedescendant", "opt-0");
  }

  closePopup() {
    this.popup.hidden = true;
    this.choices = [];
    this.text.removeAttribute("aria-activedescendant");
  }

  key(event) {
    if (!this.popup.hidden && this.choices.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.active = (this.active + (event.key === "ArrowDown" ? 1 : -1) + this.choices.length) % this.choices.length;
        [...this.popup.children].forEach((li, n) => li.setAttribute("aria-selected", String(n === this.active)));
        this.text.setAttribute("aria-activedescendant", `opt-${this.active}`);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); this.choices[this.active].pick(); return; }
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); this.closePopup(); return; }
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); this.send(); }
  }

  async send() {
    const text = this.text.value.trim();
    const templated = this.mode === "reply" && this.templateMode;
    if (templated && !this.whatsapp.value()) return;
    if (!templated && !text && !(this.mode === "reply" && this.files.length)) return;
    const conv = this.conv;
    try {
      if (this.mode === "note") {
        const mentions = [...this.mentions].filter(([label]) => text.includes(label)).map(([, id]) => id);
        await post(`/api/v1/conversations/${conv.id}/notes`, { text, mentions });
        announce(t("reply.note_added"));
      } else {
        if (conv.assignee_id && conv.assignee_id !== state.me.id
            && !window.confirm(t("reply.not_yours", { name: agentName(conv.assignee_id) }))) return;
        // one id per reply: sent again after a lost answer, the hub answers the first one
        this.clientId ||= randomId();
        const body = templated ? { template: this.whatsapp.value() } : { text };
        body.client_id = this.clientId;
        if (this.channel.value !== conv.channel) body.channel = this.channel.value;
        if (this.files.length) body.attachments = this.files.map(({ sha256, filename, content_type }) => ({ sha256, filename, content_type }));
        await post(`/api/v1/conversations/${conv.id}/messages`, body);
        this.clientId = null;
        announce(t("reply.sent"));
      }
      this.text.value = "";
      this.mentions.clear();
      this.files = [];
      this.renderFiles();
      if (templated) this.whatsapp.render();
      this.onSent();
    } catch (err) {
      // a 4xx is the hub's answer: nothing was sent, the next try is a new reply; after a
      // network error or a 5xx it may have been, so a resend keeps the id
      if (err.status >= 400 && err.status < 500) this.clientId = null;
      toast(t("error.generic", { detail: err.message }), "error");
      if (err.problem?.type?.endsWith("whatsapp-window")) this.checkWindow(); // it closed meanwhile
    }
  }
}

// 32 hex digits from the browser's generator (crypto.randomUUID needs a secure context)
function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ContactHub's chat widget: one file, no dependencies, a classic script or a module (so no
// import/export). It speaks /ws/widget (docs/widget-protocol.md) from an open shadow root.
// Each message waits with its UUID in a localStorage outbox until acked and is sent again
// after every welcome. Customer text only becomes textContent or attributes, never markup.
(() => {
"use strict";
if (!window.customElements || customElements.get("contacthub-chat")) return; // loaded twice
const tag = document.currentScript || document.querySelector('script[data-site][src*="/widget/chat.js"]');
const site = tag?.dataset.site;
if (!site) return;
customElements.define("contacthub-chat", class extends HTMLElement {});

const opt = tag.dataset;
const SRC = new URL(tag.src, location.href);
const HUB = SRC.origin;
const WS_URL = SRC.protocol.replace("http", "ws") + "//" + SRC.host + "/ws/widget?site=" + encodeURIComponent(site);
const KEY = `contacthub:${site}:`;

const STRINGS = {
  en: {
    open: "Open chat", close: "Close chat", unread: "{n} unread", title: "Chat with {name}", chat: "Chat",
    connecting: "Connecting…", reconnecting: "Reconnecting…", sending: "Sending…", failed: "Not sent",
    read: "Read", typing: "{name} is typing…", someone: "Someone", joined: "{name} joined the chat",
    left: "{name} left the chat", message: "Message", placeholder: "Write a message…", send: "Send",
    attach: "Attach a file", remove: "Remove {name}", uploading: "uploading…", name: "Name", email: "Email",
    phone: "Phone", department: "Department", anyDept: "No preference", optional: "(optional)",
    start: "Start chat", prechatIntro: "Please tell us a little about yourself.",
    offlineNotice: "We're not available right now{reason}. Leave a message and we'll get back to you.",
    offlineLine: "We're not available right now{reason}. We'll reply as soon as we can.",
    r_closed: " (outside business hours)", r_no_agents: " (no agent free)", text: "Your message",
    contactHint: "Tell us how to reach you: an email address, a phone number or both.", leave: "Send message",
    thanks: "Thanks – we'll reply to you by email or phone.",
    e_rate_limited: "You're sending too fast. We'll retry in a moment.",
    e_too_long: "A message can have at most 5,000 characters.",
    e_contact_required: "Please give an email address or a phone number.",
    e_bad_upload: "The attachment could not be sent.", tooBig: "{name} is too large (at most {max}).",
    badType: "Files of this type can't be sent: {name}", uploadFailed: "The file could not be uploaded.",
    stars: "{n} of 5", e_csat: "This survey can't be answered any more.",
  },
  de: {
    open: "Chat öffnen", close: "Chat schließen", unread: "{n} ungelesen", title: "Chat mit {name}",
    connecting: "Verbindung wird aufgebaut…", reconnecting: "Verbindung wird wiederhergestellt…",
    sending: "Wird gesendet…", failed: "Nicht gesendet", read: "Gelesen", typing: "{name} schreibt…",
    someone: "Jemand", joined: "{name} ist dem Chat beigetreten", left: "{name} hat den Chat verlassen",
    message: "Nachricht", placeholder: "Nachricht schreiben…", send: "Senden", attach: "Datei anhängen",
    remove: "{name} entfernen", uploading: "wird hochgeladen…", email: "E-Mail",
    phone: "Telefon", department: "Abteilung", anyDept: "Keine Präferenz", 
    start: "Chat starten", prechatIntro: "Bitte erzählen Sie uns kurz etwas über sich.",
    offlineNotice: "Wir sind gerade nicht erreichbar{reason}. Hinterlassen Sie eine Nachricht, wir melden uns bei Ihnen.",
    offlineLine: "Wir sind gerade nicht erreichbar{reason}. Wir antworten so bald wie möglich.",
    r_closed: " (außerhalb der Geschäftszeiten)", r_no_agents: " (kein Mitarbeiter frei)",
    text: "Ihre Nachricht", contactHint: "Wie erreichen wir Sie? Per E-Mail, Telefon oder beides.",
    leave: "Nachricht senden", thanks: "Danke – wir antworten Ihnen per E-Mail oder Telefon.",
    e_rate_limited: "Sie senden zu schnell. Wir versuchen es gleich erneut.",
    e_too_long: "Eine Nachricht darf höchstens 5.000 Zeichen haben.",
    e_contact_required: "Bitte geben Sie eine E-Mail-Adresse oder eine Telefonnummer an.",
    e_bad_upload: "Der Anhang konnte nicht gesendet werden.", tooBig: "{name} ist zu groß (höchstens {max}).",
    badType: "Dateien dieses Typs können nicht gesendet werden: {name}",
    uploadFailed: "Die Datei konnte nicht hochgeladen werden.",
    stars: "{n} von 5", e_csat: "Diese Umfrage kann nicht mehr beantwortet werden.",
  },
};

const CSS = `
:host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;display:block;--ch-primary:#2456d6;--ch-on-primary:#fff}
.panel,.launcher{font:15px/1.45 system-ui,"Segoe UI",Roboto,Arial,sans-serif;color:#1d2330;text-align:left}
:host([hidden]),[hidden]{display:none!important}
*{box-sizing:border-box}
button,input,select,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer;border:0}
:focus-visible{outline:3px solid var(--ch-primary);outline-offset:2px}
.panel,.body,.log,.card,label{display:flex;flex-direction:column}
.x,.icon,.primary,input,select,textarea,.msg img{border-radius:8px}
p,form{margin:0}
.launcher,.x,.icon{display:grid;place-items:center;flex:none}
.launcher{position:relative;margin-left:auto;width:60px;height:60px;border-radius:50%;box-shadow:0 4px 14px #0005}
.launcher,header,.primary,.icon.send,.msg[data-from=visitor]{background:var(--ch-primary);color:var(--ch-on-primary)}
.launcher:focus-visible{outline-color:#1d2330}
.launcher svg{width:28px;height:28px}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;padding:0 6px;border-radius:11px;background:#c62828;color:#fff;font:700 12px/22px sans-serif}
.panel{position:absolute;right:0;bottom:76px;width:min(370px,calc(100vw - 24px));height:min(590px,calc(100vh - 112px));
background:#fff;border-radius:14px;box-shadow:0 12px 40px #0005;overflow:hidden}
header{display:flex;align-items:center;gap:8px;padding:12px 10px 12px 16px}
header div{flex:1;min-width:0}
.title,.agent{display:block;font-size:13px}
.title{font-weight:700;font-size:16px}
.x{width:38px;height:38px;background:none}
.x:focus-visible{outline-color:var(--ch-on-primary);outline-offset:-3px}
.status,.notice{padding:8px 14px;background:#fff4d6;color:#4d3b00;font-size:13px}
.notice{border-radius:10px}
.body{flex:1;gap:10px;padding:14px;overflow-y:auto}
.log{gap:8px}
.greeting,.msg{padding:8px 12px;border-radius:14px 14px 14px 4px;background:#f1f3f7;overflow-wrap:anywhere}
.msg{align-self:flex-start;max-width:82%}
.msg[data-from=visitor]{align-self:flex-end;border-radius:14px 14px 4px}
.msg[data-pending=true]{opacity:.72}
.msg[data-failed=true]{outline:2px solid #c62828}
.msg p{white-space:pre-wrap}
.msg a{display:block;color:inherit;margin-top:4px}
.msg img{display:block;max-width:100%;max-height:200px}
.csat{align-self:stretch}.csat button{font-size:20px;background:none;border:0;cursor:pointer;padding:2px 4px}
.csat button:focus{outline:2px solid var(--ch-primary)}.csat textarea{width:100%;margin-top:6px}
.who,.meta{display:block;font-size:12px;font-weight:700}
.meta{margin-top:3px;font-size:11px;font-weight:400;opacity:.85;text-align:right}
.sys,.typing,small{font-size:12px;color:#555d6e;font-weight:400}
.sys{align-self:center;text-align:center}
.card{gap:10px}
label{gap:4px;font-size:13px;font-weight:600}
input,select,textarea{width:100%;padding:8px 10px;border:1px solid #9aa3b2;background:#fff}
.primary{padding:10px 14px;font-weight:700}
.error{margin:0 14px;color:#b00020;font-size:13px}
.card .error{margin:0}
.error:empty{display:none}
.typing{padding:0 14px 6px;font-style:italic}
.chips{display:flex;flex-wrap:wrap;gap:6px;padding:0 10px}
.chip{display:inline-flex;align-items:center;padding:2px 2px 2px 10px;border-radius:14px;background:#e8ecf3;font-size:13px}
.chip button{width:26px;height:26px;border-radius:50%;background:none}
.composer{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e1e5ec}
.composer textarea{flex:1;min-height:40px;max-height:120px;resize:none}
.icon{width:40px;height:40px;background:#e8ecf3}
.icon:disabled{opacity:.5;cursor:default}
svg{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
@media (max-width:480px){:host{right:12px;bottom:12px}.panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0}
.panel:not([hidden])~.launcher{display:none}}`;

const ICONS = {
  chat: "M21 12a8.5 8.5 0 0 1-12.3 7.6L3 21l1.5-5.2A8.5 8.5 0 1 1 21 12z",
  x: "M6 6l12 12M18 6L6 18",
  clip: "M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l8-8",
  send: "M22 2L11 13M22 2l-7 20-4-9-9-4 20-7z",
};

// ---- helpers

function h(name, attrs, ...kids) {
  const el = document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "tid") el.dataset.testid = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
  return el;
}
function icon(name) {
  const ns = "http://www.w3.org/2000/svg", el = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
  for (const [k, v] of [["viewBox", "0 0 24 24"], ["aria-hidden", "true"], ["focusable", "false"]]) el.setAttribute(k, v);
  path.setAttribute("d", ICONS[name]);
  el.append(path);
  return el;
}
function t(key, vars) {
  const s = STRINGS[lang]?.[key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars?.[k] ?? "");
}
const text2 = (o) => (typeof o === "object" ? o?.[lang] || o?.en || o?.de || "" : typeof o === "string" ? o : "");
// randomUUID exists only in secure contexts; plain-http pages get a v4 UUID too
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : "10000000-1000-4000-8000-100000000000"
  .replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));
function fmtSize(n) {
  n = +n || 0;
  const nf = (v) => v.toLocaleString(lang, { maximumFractionDigits: 1 });
  return n >= 1048576 ? `${nf(n / 1048576)} MB` : n >= 1024 ? `${nf(n / 1024)} KB` : `${n} B`;
}
function safeUrl(u) {
  try {
    const url = new URL(u, HUB); // attachment urls may be relative to the hub
    return /^https?:$/.test(url.protocol) ? url.href : null;
  } catch { return null; }
}
function when(at) {
  if (at == null) return "";
  const d = new Date(typeof at === "number" && at < 1e12 ? at * 1000 : at);
  return isNaN(d) ? "" : d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
}

// localStorage may be missing or throw (private mode, blocked storage, full)
const store = {
  get(k) { try { return localStorage.getItem(KEY + k); } catch { return null; } },
  set(k, v) { try { v == null ? localStorage.removeItem(KEY + k) : localStorage.setItem(KEY + k, v); } catch { /* memory only */ } },
};
function storedOutbox() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY + "outbox") || "[]");
    return Array.isArray(list) ? list.filter((f) => f && typeof f.id === "string") : [];
  } catch { return null; }
}
// Re-read before each change so two tabs keep each other's entries; without storage the
// list in memory is the outbox.
function editOutbox(change) {
  outbox = change(storedOutbox() || outbox);
  store.set("outbox", outbox.length ? JSON.stringify(outbox) : null);
}
const dropOutbox = (id) => editOutbox((list) => list.filter((f) => f.id !== id));

// ---- state

let settings = {};
let lang = pickLang();
let token = store.get("visitor");
let outbox = storedOutbox() || [];
let ws = null, ready = false, everReady = false, welcomed = false, wanted = false, stopped = false;
let netDown = navigator.onLine === false, attempt = 0, timer = 0, retryTimer = 0, lastSeqSent = 0;
let maxSeq = 0, agentSeq = 0, readSent = 0, readSeq = 0, readEl = null, unread = 0, isOpen = false;
let offline = false, reason = null, agent = null, prechatDone = false, prechatSubmitted = false;
let pendingStart = null, thanked = false, typingAt = 0, typingOn = false, typingIdle = 0;
let uploads = [], tokenWait = null, gotToken = null, formSig = "", forms = {}, errTimer = 0, thanksLine = null, shownView = "";
const seen = new Set(); // server ids shown
const bubbles = new Map(); // client id and server id -> bubble element

// data-language, else the browser's if the site offers it, else the site's first, else en
function pickLang() {
  const offered = Array.isArray(settings.languages) ? settings.languages : [];
  const forced = (opt.language || "").toLowerCase(), nav = String(navigator.language).slice(0, 2).toLowerCase();
  if (STRINGS[forced]) return forced;
  if (offered.length ? offered.includes(nav) : STRINGS[nav]) return STRINGS[nav] ? nav : "en";
  return STRINGS[offered[0]] ? offered[0] : "en";
}

// ---- DOM

const host = document.createElement("contacthub-chat");
const root = host.attachShadow({ mode: "open" });
// A host page's CSP (style-src 'self') blocks a <style> but not a constructed stylesheet;
// only browsers without those get the <style>.
let theme;
if ("adoptedStyleSheets" in ShadowRoot.prototype && "replaceSync" in CSSStyleSheet.prototype) {
  const base = new CSSStyleSheet();
  base.replaceSync(CSS);
  root.adoptedStyleSheets = [base, (theme = new CSSStyleSheet())];
} else root.append(h("style", {}, CSS), (theme = h("style")));

const badge = h("span", { class: "badge", hidden: true });
const launcher = h("button", {
  type: "button", class: "launcher", tid: "launcher", "aria-controls": "ch-panel",
  "aria-expanded": "false", onclick: () => toggle(!isOpen),
}, icon("chat"), badge);
const title = h("span", { class: "title" });
const agentLine = h("span", { class: "agent", hidden: true });
const closeBtn = h("button", { type: "button", class: "x", onclick: () => toggle(false) }, icon("x"));
const status = h("p", { class: "status", role: "status", tid: "status", hidden: true });
const greeting = h("p", { class: "greeting", hidden: true });
const notice = h("p", { class: "notice", role: "status", tid: "offline-notice", hidden: true });
const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tid: "log" });
const formSlot = h("div");
const body = h("div", { class: "body" }, greeting, notice, log, formSlot);
const typing = h("p", { class: "typing", tid: "typing", hidden: true });
const errorLine = h("p", { class: "error", role: "alert", tid: "error" });
const chips = h("div", { class: "chips" });
const input = h("textarea", { rows: 1, tid: "composer" });
const file = h("input", { type: "file", hidden: true, tabindex: "-1", tid: "file" });
const attachBtn = h("button", { type: "button", class: "icon", onclick: () => file.click() }, icon("clip"));
const sendBtn = h("button", { type: "submit", class: "icon send", tid: "send" }, icon("send"));
const composer = h("form", { class: "composer", hidden: true }, attachBtn, file, input, sendBtn);
const panel = h("div", { id: "ch-panel", class: "panel", role: "dialog", tid: "panel", hidden: true },
  h("header", {}, h("div", {}, title, agentLine), closeBtn), status, body, typing, errorLine, chips, composer);
root.append(panel, launcher);

function relabel() {
  for (const [el, key] of [[closeBtn, "close"], [input, "message"], [attachBtn, "attach"], [sendBtn, "send"]]) el.setAttribute("aria-label", t(key));
  input.placeholder = t("placeholder");
  for (const el of log.querySelectorAll(".msg")) setMeta(el);
  renderChips();
  updateBadge();
}

function applyTheme() {
  const c = settings.colors || {};
  const ok = (v) => typeof v === "string" && /^[#\w\s(),.%/]+$/.test(v); // a colour, nothing that ends the rule
  const css = `:host{${ok(c.primary) ? `--ch-primary:${c.primary};` : ""}${ok(c.on_primary) ? `--ch-on-primary:${c.on_primary};` : ""}}`;
  if (theme.replaceSync) theme.replaceSync(css);
  else theme.textContent = css;
}

function updateBadge() {
  badge.textContent = unread > 9 ? "9+" : unread;
  badge.hidden = !unread;
  launcher.setAttribute("aria-label", t(isOpen ? "close" : "open") + (unread ? `, ${t("unread", { n: unread })}` : ""));
}

const hasConversation = () => seen.size || outbox.length || thanked;
const prechatWanted = () => {
  const p = settings.prechat || {};
  return ["name", "email", "phone"].some((k) => p[k] === "required" || p[k] === "optional") || departments().length;
};
const departments = () => (Array.isArray(settings.departments) ? settings.departments.filter((d) => d && d.id != null) : []);

// Shows one of three views: the offline form, the pre-chat form or the chat.
function render() {
  const conv = hasConversation();
  const offForm = welcomed && offline && !conv;
  const pre = welcomed && !offForm && !conv && !prechatDone && !prechatSubmitted && prechatWanted();
  const chat = !offForm && !pre && (welcomed || conv || !!token);
  const name = settings.name || t("chat");
  title.textContent = name;
  panel.setAttribute("aria-label", t("title", { name }));
  agentLine.hidden = !(agentLine.textContent = agent ? agent.name : "");
  greeting.hidden = !(greeting.textContent = text2(settings.greeting));
  status.textContent = t(everReady || netDown ? "reconnecting" : "connecting");
  status.hidden = ready || stopped || !wanted;
  notice.hidden = !(welcomed && offline);
  const why = reason && STRINGS.en["r_" + reason] ? t("r_" + reason) : "";
  notice.textContent = t(offForm ? "offlineNotice" : "offlineLine", { reason: why });
  const sig = JSON.stringify([lang, settings.prechat, settings.departments]);
  if (sig !== formSig) {
    formSig = sig;
    forms = { prechat: buildPrechat(), offline: buildOffline() };
    formSlot.replaceChildren(forms.prechat, forms.offline);
  }
  forms.prechat.hidden = !pre;
  forms.offline.hidden = !offForm;
  composer.hidden = !chat;
  sendBtn.disabled = uploads.some((u) => !u.upload);
  const view = offForm ? "offline" : pre ? "prechat" : chat ? "chat" : "";
  if (view !== shownView) {
    shownView = view;
    // the view changed: move focus along
    const at = root.activeElement;
    if (isOpen && (!at || at === closeBtn || !at.getClientRects().length)) focusFirst();
  }
}

// `submit` gets the trimmed values (empty ones left out) and may return an error to show
function buildForm(prefix, intro, specs, submitKey, submit) {
  const ctl = {}, err = h("p", { class: "error", role: "alert", tid: prefix + "-error" });
  const form = h("form", { class: "card", tid: prefix === "offline" ? "offline-form" : prefix, hidden: true }, h("p", {}, intro));
  const depts = departments();
  if (depts.length) specs.push(["department", "select", {}, true]);
  for (const [key, tag, attrs, optional] of specs) {
    const el = (ctl[key] = h(tag, Object.assign({ name: key, tid: `${prefix}-${key}` }, attrs)));
    if (tag === "select") el.append(h("option", { value: "" }, t("anyDept")), ...depts.map((d) => h("option", { value: d.id }, text2(d.label) || String(d.id))));
    form.append(h("label", {}, h("span", {}, t(key), optional ? h("small", {}, " " + t("optional")) : null), el));
  }
  form.append(err, h("button", { type: "submit", class: "primary", tid: prefix + "-submit" }, t(submitKey)));
  form.addEventListener("submit", (e) => {
    e.preventDefault(); // fires only once the native validation passed
    const v = {};
    for (const k in ctl) v[k] = ctl[k].value.trim() || undefined;
    err.textContent = submit(v, ctl) || "";
  });
  return form;
}

function buildPrechat() {
  const p = settings.prechat || {}, specs = [];
  for (const [k, type] of [["name", "text"], ["email", "email"], ["phone", "tel"]]) {
    if (p[k] === "required" || p[k] === "optional") specs.push([k, "input", { type, autocomplete: k === "phone" ? "tel" : k, required: p[k] === "required", value: opt[k] }, p[k] === "optional"]);
  }
  return buildForm("prechat", t("prechatIntro"), specs, "start", (v) => {
    pendingStart = Object.assign({ type: "start" }, v, { language: lang });
    if (send(pendingStart)) pendingStart = null; // else it goes out after the next welcome
    prechatSubmitted = true;
    render();
    input.focus();
  });
}

function buildOffline() {
  return buildForm("offline", t("contactHint"), [
    ["text", "textarea", { required: true, rows: 4, maxlength: 5000 }],
    ["email", "input", { type: "email", autocomplete: "email", value: opt.email }],
    ["phone", "input", { type: "tel", autocomplete: "tel" }],
    ["name", "input", { autocomplete: "name", value: opt.name }, true],
  ], "leave", (v, ctl) => {
    if (!v.email && !v.phone) return ctl.email.focus(), t("e_contact_required");
    thanked = true;
    queue(Object.assign({ type: "leave_message", id: uuid() }, v, { _at: Date.now() }));
    (thanksLine = sysLine(t("thanks"), true)).dataset.testid = "thanks";
    render();
    input.focus();
  });
}

// ---- messages

function attachmentEl(a) {
  const name = String(a.name || "file");
  const url = a.url && safeUrl(a.url);
  if (!url) return h("span", { class: "who" }, name);
  const link = { href: url, target: "_blank", rel: "noopener noreferrer" };
  if (/^image\//.test(a.type || "")) return h("a", link, h("img", { src: url, alt: name, loading: "lazy" }));
  return h("a", Object.assign(link, { download: name }), a.size ? `${name} (${fmtSize(a.size)})` : name);
}

function fill(el, m) {
  const atts = Array.isArray(m.attachments) ? m.attachments.filter((a) => a && typeof a === "object") : [];
  const kids = atts.map(attachmentEl);
  if (m.text) kids.unshift(h("p", {}, m.text));
  if (el.dataset.from === "agent" && m.name) kids.unshift(h("span", { class: "who" }, m.name));
  el.replaceChildren(...kids, (el._meta = h("span", { class: "meta" })));
  setMeta(el);
}

const bubble = (from, attrs) => h("div", Object.assign({ class: "msg", tid: "msg", "data-from": from === "visitor" ? from : "agent" }, attrs));

function setMeta(el) {
  if (!el._meta) return;
  const state = el.dataset.pending === "true" ? t("sending") : el.dataset.failed === "true" ? t("failed") : when(el._at);
  el._meta.replaceChildren(state, el === readEl ? h("span", { tid: "read" }, (state ? " · " : "") + t("read")) : "");
}

// Confirmed bubbles keep the hub's seq order; pending ones stay at the end.
function place(el) {
  const next = [...log.querySelectorAll(".msg")].find((m) => m !== el && (m.dataset.pending || m._seq > el._seq)) || null;
  if (!el.isConnected || el.nextElementSibling !== next) log.insertBefore(el, next);
  scrollDown();
}
function sysLine(text, atEnd) {
  const el = h("p", { class: "sys" }, text);
  atEnd ? log.append(el) : place(el);
  return scrollDown(), el;
}
const scrollDown = () => (body.scrollTop = body.scrollHeight);

function pendingBubble(f) {
  const el = bubble("visitor", { "data-id": f.id, "data-pending": "true" });
  fill(el, { text: f.text, attachments: f._files });
  bubbles.set(f.id, el);
  log.append(el);
  scrollDown();
}

function settle(el, id, seq, at) {
  el.dataset.id = id;
  el.removeAttribute("data-pending");
  el._seq = seq;
  el._at ||= at || Date.now();
  bubbles.set(id, el);
  setMeta(el);
  place(el);
}

function showEvent(ev, live) {
  if (!ev || ev.id == null) return;
  const id = String(ev.id);
  if (typeof ev.seq === "number" && ev.seq > maxSeq) maxSeq = ev.seq;
  if (seen.has(id)) return;
  seen.add(id);
  let el = bubbles.get(id) || (ev.client_id != null && bubbles.get(String(ev.client_id)));
  if (el) {
    // our own message, from the outbox or acked: it becomes the real one
    if (ev.client_id != null) dropOutbox(String(ev.client_id));
    el._at = ev.at;
    fill(el, ev);
  } else fill((el = bubble(ev.from)), ev);
  settle(el, id, ev.seq, ev.at);
  if (el.dataset.from === "agent") {
    if (ev.seq > agentSeq) agentSeq = ev.seq;
    hideTyping();
    if (live && !isOpen) { unread++; updateBadge(); }
  }
  markRead();
}

function markRead() {
  let best = null;
  for (const el of log.querySelectorAll('.msg[data-from="visitor"]')) if (el._seq && el._seq <= readSeq) best = el;
  if (best === readEl) return;
  const old = readEl;
  readEl = best;
  for (const el of [old, best]) if (el) setMeta(el);
}

function markFailed(id) {
  const el = bubbles.get(id);
  if (el) { el.removeAttribute("data-pending"); el.dataset.failed = "true"; setMeta(el); }
}

const hideTyping = () => (typing.hidden = true);

function showError(key, vars) {
  errorLine.textContent = t(key, vars);
  clearTimeout(errTimer);
  errTimer = setTimeout(() => { errorLine.textContent = ""; }, 8000);
}

// ---- sending

function send(frame) {
  if (!ready || ws?.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}
// fields starting with "_" are for the pending bubble, not for the hub
const transmit = (f) => send(Object.fromEntries(Object.entries(f).filter(([k]) => k[0] !== "_")));
function queue(frame) {
  editOutbox((list) => list.filter((f) => f.id !== frame.id).concat([frame]));
  pendingBubble(frame);
  transmit(frame);
  if (!wanted) (wanted = true), connect();
  render();
}
function flush() { for (const f of outbox) transmit(f); }

function sendMessage() {
  const text = input.value.trim();
  const files = uploads.filter((u) => u.upload);
  if ((!text && !files.length) || uploads.length !== files.length) return; // nothing, or still uploading
  if (text.length > 5000) return showError("e_too_long");
  const frame = { type: "message", id: uuid(), text, _at: Date.now() };
  if (files.length) {
    frame.attachments = files.map((u) => ({ upload: u.upload }));
    frame._files = files.map((u) => ({ name: u.name, type: u.type, size: u.size }));
  }
  input.value = "";
  uploads = [];
  renderChips();
  autosize();
  stopTyping();
  queue(frame);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingOn) send({ type: "typing", on: false });
  typingOn = false;
  typingAt = 0;
}

function autosize() {
  input.style.height = "auto"; // CSSOM, which a host page's CSP allows
  input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
}

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendMessage(); }
});
// `typing` on at most every 3 s while typing; off on send, blur or 5 s of quiet
input.addEventListener("input", () => {
  autosize();
  if (!input.value) return stopTyping();
  const now = Date.now();
  if (now - typingAt >= 3000 && send({ type: "typing", on: true })) [typingAt, typingOn] = [now, true];
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 5000);
});
input.addEventListener("blur", stopTyping);
composer.addEventListener("submit", (e) => { e.preventDefault(); sendMessage(); });

// ---- files
// Uploads need a visitor token. Without one yet we send an empty `start`, which makes the
// hub issue one, and upload once the `visitor` frame is in (or fail after 10 s).

function renderChips() {
  chips.replaceChildren(...uploads.map((u) => h("span", { class: "chip", tid: "chip" },
    h("span", {}, u.upload ? u.name : `${u.name} – ${t("uploading")}`),
    h("button", { type: "button", "aria-label": t("remove", { name: u.name }), onclick: () => {
      uploads = uploads.filter((x) => x !== u);
      renderChips();
      input.focus();
    } }, "×"))));
  sendBtn.disabled = uploads.some((u) => !u.upload);
}

function needToken() {
  if (token) return Promise.resolve(token);
  if (!tokenWait) {
    if (!send({ type: "start", language: lang })) return Promise.reject(new Error("uploadFailed"));
    tokenWait = new Promise((resolve, reject) => {
      gotToken = resolve;
      setTimeout(() => { tokenWait = null; reject(new Error("uploadFailed")); }, 10000);
    });
  }
  return tokenWait;
}

// types are MIME types, "image/*" or ".pdf"
const typeAllowed = (f, types) => types.some((x) => (x = String(x).toLowerCase()).startsWith(".")
  ? f.name.toLowerCase().endsWith(x) : x.endsWith("/*") ? f.type.startsWith(x.slice(0, -1)) : f.type === x);

async function upload(f) {
  const limits = settings.uploads || {}, vars = { name: f.name, max: fmtSize(limits.max_bytes) };
  if (limits.max_bytes && f.size > limits.max_bytes) return showError("tooBig", vars);
  if (Array.isArray(limits.types) && limits.types.length && !typeAllowed(f, limits.types)) return showError("badType", vars);
  const chip = { name: f.name };
  try {
    const tok = await needToken();
    uploads.push(chip);
    renderChips();
    const form = new FormData();
    form.append("file", f, f.name);
    const res = await fetch(`${HUB}/widget/uploads?site=${encodeURIComponent(site)}`, { method: "POST", headers: { Authorization: `Visitor ${tok}` }, body: form });
    const got = res.status === 201 && (await res.json());
    if (!got || !got.upload) throw new Error(res.status === 413 ? "tooBig" : res.status === 415 ? "badType" : "uploadFailed");
    Object.assign(chip, { upload: got.upload, name: got.name || f.name, type: got.type || f.type, size: got.size ?? f.size });
  } catch (e) {
    uploads = uploads.filter((x) => x !== chip);
    showError(STRINGS.en[e?.message] ? e.message : "uploadFailed", vars);
  }
  renderChips();
  render();
}

file.addEventListener("change", async () => {
  const list = [...file.files];
  file.value = "";
  for (const f of list) await upload(f);
  input.focus();
});

// ---- the socket

function connect() {
  clearTimeout(timer);
  timer = 0;
  if (stopped || netDown || (ws && ws.readyState <= WebSocket.OPEN)) return;
  let sock;
  try { sock = ws = new WebSocket(WS_URL); } catch (e) { return console.warn("contacthub:", e), retry(); }
  sock.onopen = () => {
    lastSeqSent = maxSeq;
    sock.send(JSON.stringify({
      type: "hello", site, visitor: token || null, last_seq: maxSeq, language: lang,
      identifier: opt.identifier, identifier_hash: opt.identifierHash, name: opt.name, email: opt.email,
      page: { url: location.href, title: document.title },
    }));
  };
  sock.onmessage = (e) => {
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    if (ws === sock && f && typeof f === "object") handle(f);
  };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    ws = null;
    ready = false;
    hideTyping();
    if (e.code === 4404) {
      stopped = host.hidden = true; // an unknown site key: stop for good
      console.warn("contacthub: unknown site key", site);
    } else retry();
    render();
  };
}

// Exponential backoff with full jitter: random(0, min(30 s, 1 s · 2^attempt)).
function retry() {
  if (stopped || netDown || timer) return;
  const delay = Math.random() * Math.min(30000, 1000 * 2 ** Math.min(attempt++, 15));
  timer = setTimeout(() => { timer = 0; connect(); }, delay);
}

// Chromium's emulated offline (and many outages) leave a socket looking alive: drop it
// and wait for `online`.
function drop() {
  const sock = ws;
  ws = null;
  ready = false;
  if (sock) sock.close(1000);
}
addEventListener("offline", () => {
  netDown = true;
  clearTimeout(timer);
  timer = 0;
  drop();
  hideTyping();
  render();
});
addEventListener("online", () => {
  netDown = false;
  attempt = 0;
  if (wanted && !ready) drop(), connect();
  render();
});
document.addEventListener("visibilitychange", sendRead);

function sendRead() {
  if (!isOpen || document.visibilityState !== "visible" || agentSeq <= readSent) return;
  if (send({ type: "read", seq: maxSeq })) readSent = maxSeq;
}

function handle(f) {
  switch (f.type) {
    case "welcome": return welcome(f);
    case "visitor":
      if (typeof f.token === "string" && f.token) {
        store.set("visitor", (token = f.token));
        if (tokenWait) gotToken(token);
        tokenWait = null;
      }
      return;
    case "ack": {
      const el = bubbles.get(String(f.id));
      dropOutbox(String(f.id));
      if (el) settle(el, String(f.message_id ?? f.id), f.seq);
      return markRead(), render();
    }
    case "message":
      return showEvent(f, true), sendRead(), render();
    case "typing": // the hub itself turns it off after 6 s without news
      typing.textContent = t("typing", { name: f.name || agent?.name || t("someone") });
      typing.hidden = !f.on;
      return;
    case "read":
      if (typeof f.seq === "number" && f.seq > readSeq) readSeq = f.seq;
      return markRead();
    case "agent_joined":
    case "agent_left": {
      const name = String(f.name || agent?.name || "");
      if (name) sysLine(t(f.type === "agent_left" ? "left" : "joined", { name }));
      agent = f.type === "agent_left" ? null : { name };
      return render();
    }
    case "offline_mode":
      offline = !!f.offline;
      reason = f.reason || null;
      return render();
    case "csat": return showSurvey(f), render();
    case "csat_done": return surveyDone(f);
    case "error": return onError(f);
  }
}

// A satisfaction survey: five stars, then (optionally) a comment; the hub's words.
const surveys = new Map();
function showSurvey(ev) {
  const id = String(ev.survey || "");
  if (!id || surveys.has(id)) return;
  const stars = h("div", { role: "group", "aria-label": String(ev.question || "") },
    [1, 2, 3, 4, 5].map((n) => h("button", { type: "button", tid: `csat-${n}`, "aria-label": t("stars", { n }),
      onclick: () => send({ type: "csat", survey: id, score: n }) }, "★".repeat(n))));
  const box = h("div", { class: "msg csat", tid: "csat", "data-from": "agent" }, h("p", {}, String(ev.question || "")), stars);
  box._seq = typeof ev.seq === "number" ? ev.seq : Number.MAX_SAFE_INTEGER;
  surveys.set(id, { box, ev });
  place(box);
  scrollDown();
}

function surveyDone(ev) {
  const s = surveys.get(String(ev.survey || ""));
  if (!s) return;
  const { box, ev: asked } = s;
  box.replaceChildren(h("p", { tid: "csat-thanks" }, String(asked.thanks || "")));
  if (!ev.commented) {
    const text = h("textarea", { rows: 3, maxlength: 2000, "aria-label": String(asked.comment || "") });
    box.append(h("p", {}, String(asked.comment || "")), text,
      h("button", { type: "button", class: "primary", tid: "csat-send", onclick: () => text.value.trim() && send({ type: "csat", survey: String(ev.survey), comment: text.value.trim() }) }, t("send")));
  }
}

function welcome(f) {
  settings = f.settings && typeof f.settings === "object" ? f.settings : {};
  if (lang !== (lang = pickLang())) relabel();
  applyTheme();
  file.accept = [].concat(settings.uploads?.types || []).join(",");
  if (typeof f.visitor === "string" && f.visitor) store.set("visitor", (token = f.visitor));
  else if (token) {
    // an unknown token (or another site's): forget it and its seqs
    store.set("visitor", (token = null));
    maxSeq = agentSeq = readSent = readSeq = 0;
  }
  offline = !!f.offline;
  reason = f.offline_reason || null;
  agent = f.agent?.name ? { name: String(f.agent.name) } : null;
  prechatDone = !!f.prechat_done;
  for (const ev of Array.isArray(f.events) ? f.events : []) {
    if (ev && (!ev.type || ev.type === "message")) showEvent(ev, lastSeqSent > 0);
    else if (ev && ev.type === "csat") showSurvey(ev);
    else if (ev && ev.type === "csat_done") surveyDone(ev);
  }
  if (typeof f.seq === "number" && f.seq > maxSeq) maxSeq = f.seq;
  ready = welcomed = everReady = true;
  attempt = 0;
  if (pendingStart && send(pendingStart)) pendingStart = null;
  for (const entry of outbox) if (!bubbles.has(entry.id)) pendingBubble(entry);
  flush();
  sendRead();
  render();
}

function onError(f) {
  const code = String(f.code || "");
  const id = f.id != null ? String(f.id) : null;
  if (!STRINGS.en["e_" + code]) return console.warn("contacthub:", code, f.detail || ""); // bad_identity, bad_frame
  showError("e_" + code);
  clearTimeout(retryTimer);
  // a rate-limited frame was dropped; what is unacked is still in the outbox
  if (code === "rate_limited") return (retryTimer = setTimeout(flush, 4000 + Math.random() * 4000));
  const entry = id && outbox.find((x) => x.id === id);
  if (entry) {
    // refused for good: sending it again would be refused again
    dropOutbox(id);
    markFailed(id);
    if (entry.type === "leave_message" && thanksLine) thanked = false, thanksLine.remove(); // back to the filled-in form
  } else if (code === "contact_required") prechatSubmitted = false; // the pre-chat `start`
  render();
}

// ---- the panel and its focus trap

const focusables = () => [...panel.querySelectorAll("button,textarea,input,select,a[href]")]
  .filter((el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);
const focusFirst = () => (focusables().find((el) => el.tagName !== "BUTTON" && el.tagName !== "A") || closeBtn).focus();

function toggle(open) {
  isOpen = open;
  panel.hidden = !open;
  launcher.setAttribute("aria-expanded", open);
  if (open) unread = 0;
  updateBadge();
  if (!open) return stopTyping(), launcher.focus();
  if (!wanted) { wanted = true; connect(); }
  render();
  focusFirst();
  scrollDown();
  sendRead();
}

root.addEventListener("keydown", (e) => {
  if (!isOpen) return;
  if (e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation();
    return toggle(false);
  }
  if (e.key !== "Tab") return;
  const list = focusables();
  if (!list.length) return;
  const at = list.indexOf(root.activeElement);
  if (e.shiftKey ? at <= 0 : at < 0 || at === list.length - 1) {
    e.preventDefault();
    (e.shiftKey ? list[list.length - 1] : list[0]).focus();
  }
});

// ---- start

applyTheme();
relabel();
for (const entry of outbox) pendingBubble(entry);
render();
const mount = () => document.body.append(host);
if (document.body) mount();
else document.addEventListener("DOMContentLoaded", mount);
// A returning visitor (or one with unsent messages) connects at once, so that history
// and replies show; a new one when first opening the chat.
if (token || outbox.length) (wanted = true), connect();
})();

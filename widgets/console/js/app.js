// The console's entry point: sign-in, the live feed, the views and the shortcuts.
import { get, post, put, setCsrf, ApiError } from "./api.js";
import { h, svg, replace, announce, toast } from "./dom.js";
import { t, language, setLanguage, LANGUAGES, formatClock } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { state, isSupervisor, mark } from "./state.js";
import { Inbox } from "./inbox.js";
import { ConversationView } from "./conversation.js";
import { SupervisorView } from "./supervisor.js";
import { showLogin } from "./login.js";
import { installShortcuts } from "./shortcuts.js";
import { KeyAccountsView } from "./keyaccounts.js";
import { WatchlistView } from "./health.js";
import { Notifier } from "./notify.js";
import { loadTags } from "./tags.js";
import { Search, SavedViews } from "./search.js";
import { ReportsView } from "./reports.js";
import { CampaignsView } from "./campaigns.js";
import { FeedbackView } from "./feedback.js";

const live = new LiveFeed();
const NARROW = window.matchMedia("(max-width: 900px)");
let inbox, conversation, supervisor, reports, keyAccounts, watchlist, campaigns, feedback, notifier, search, savedViews;

async function boot() {
  document.documentElement.lang = language();
  document.title = t("app.title");
  try {
    state.me = await get("/api/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin(document.getElementById("app"), boot);
    throw err;
  }
  setCsrf(state.me.csrf_token);
  if (state.me.totp_setup_required) return showLogin(document.getElementById("app"), boot, { setup: true });
  await Promise.all([loadAgents(), loadCanned(), loadQueues(), loadTags()]);
  notifier = new Notifier();
  layout();
  notifier.title();
  FeedbackView.reads().then((reads) => {
    const link = document.getElementById("nav-feedback");
    link.hidden = !reads;
    link.dataset.checked = "1"; // asked the hub (the browser tests wait for it)
  });
  KeyAccountsView.count().then((n) => {
    const link = document.getElementById("nav-key-accounts");
    link.hidden = n === 0;
    // a key account manager sees the reports of their accounts (the hub narrows them)
    state.keyAccountManager = n > 0;
    document.getElementById("nav-reports").hidden = !mayReport();
    document.getElementById("nav-health").hidden = !mayReport();
    link.dataset.checked = "1"; // asked the hub (the browser tests wait for it)
    if (state.keyAccountManager && !isSupervisor() && ["#/reports", "#/health"].includes(location.hash)) route(); // opened before we knew
  });
  live.addEventListener("event", (e) => onEvent(e.detail));
  live.addEventListener("status", (e) => setLive(e.detail));
  live.addEventListener("resync", () => { toast(t("live.resync")); reloadAll(); });
  live.addEventListener("signedout", () => { toast(t("notice.signed_out"), "error"); setTimeout(() => location.reload(), 1500); });
  live.start();
  window.addEventListener("hashchange", route);
  installShortcuts({ inbox, conversation: () => conversation, presence: togglePresence });
  await inbox.load();
  savedViews.load();
  route();
}

async function loadAgents() {
  const agents = await get("/api/v1/agents");
  state.agents = new Map(agents.items.map((a) => [a.id, a]));
}
async function loadCanned() { state.canned = (await get("/api/v1/canned-responses")).items; }
async function loadQueues() { state.queues = (await get("/api/v1/queues")).items; }

// supervisors and admins: every customer's figures; a key account manager: their accounts'
function mayReport() {
  return isSupervisor() || Boolean(state.keyAccountManager);
}

function layout() {
  // a hit opens its conversation at the message found
  search = new Search({ open: (id, messageId) => { location.hash = messageId ? `#/c/${id}/m/${messageId}` : `#/c/${id}`; } });
  savedViews = new SavedViews(search);
  const presence = h("select", { id: "presence", "aria-label": t("presence.label"), onchange: (e) => setPresence(e.target.value) },
    ["available", "away", "offline"].map((p) => h("option", { value: p, selected: state.agents.get(state.me.id)?.presence === p }, t(`presence.${p}`))));
  const lang = h("select", { id: "language", "aria-label": t("nav.language"), onchange: (e) => { setLanguage(e.target.value); location.reload(); } },
    LANGUAGES.map((l) => h("option", { value: l, selected: l === language() }, l.toUpperCase())));
  const nav = h("nav", { "aria-label": "main" },
    h("a", { href: "#/inbox", id: "nav-inbox" }, t("nav.inbox")),
    isSupervisor() ? h("a", { href: "#/supervisor", id: "nav-supervisor" }, t("nav.supervisor")) : null,
    h("a", { href: "#/reports", id: "nav-reports", hidden: !mayReport() }, t("nav.reports")),
    h("a", { href: "#/key-accounts", id: "nav-key-accounts", hidden: true }, t("nav.key_accounts")),
    h("a", { href: "#/health", id: "nav-health", hidden: !mayReport() }, t("nav.health")),
    isSupervisor() ? h("a", { href: "#/campaigns", id: "nav-campaigns" }, t("nav.campaigns")) : null,
    h("a", { href: "#/feedback", id: "nav-feedback", hidden: true }, t("nav.feedback")));
  const header = h("header", { class: "top" },
    h("a", { href: "#main", class: "skip" }, t("nav.skip")),
    h("strong", { class: "brand" }, "ContactHub"), nav, search.root,
    h("span", { class: "live-status", id: "live-status", role: "status" }, ""),
    h("span", { class: "spacer" }),
    h("label", { class: "inline" }, t("presence.label"), " ", presence),
    lang,
    h("button", { type: "button", id: "notify-settings", "aria-label": t("nav.notifications"), title: t("nav.notifications"),
      onclick: () => notifier.dialog() }, bell()),
    h("button", { type: "button", onclick: () => document.dispatchEvent(new CustomEvent("help")), "aria-keyshortcuts": "?",
      "aria-label": t("nav.shortcuts") }, "?"),
    h("span", { class: "me" }, state.me.name),
    h("button", { type: "button", id: "logout", onclick: logout }, t("nav.logout")));
  const inboxBody = h("div", { class: "inbox-body" });
  const inboxEl = h("div", { class: "inbox", id: "inbox", "aria-label": t("nav.inbox") }, savedViews.root, inboxBody);
  const mainEl = h("main", { id: "main", tabindex: "-1" });
  replace(document.getElementById("app"), header, h("div", { class: "workspace" }, inboxEl, mainEl));
  inbox = new Inbox(inboxBody, { open: (id) => { location.hash = `#/c/${id}`; }, onOffers: offersChanged });
  conversation = new ConversationView(h("div", { class: "conversation" }), { live, onChange: () => inbox.refresh() });
  supervisor = new SupervisorView(h("div", { class: "supervisor" }));
  reports = new ReportsView(h("div", { class: "reports-view" }));
  keyAccounts = new KeyAccountsView(h("div", { class: "key-accounts" }));
  watchlist = new WatchlistView(h("div", { class: "watchlist-view" }));
  campaigns = new CampaignsView(h("div", { class: "campaigns-view" }));
  feedback = new FeedbackView(h("div", { class: "feedback-view" }));
}

// An icon drawn here: no emoji font or image file needed.
function bell() {
  return svg("svg", { width: 16, height: 16, viewBox: "0 0 24 24", "aria-hidden": "true", class: "icon" },
    svg("path", { fill: "currentColor", d: "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6v-5a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z" }));
}

// New offers to me: a notification and a sound (as the agent chose); the count in the title.
function offersChanged(offers, fresh) {
  notifier.setOffers(offers.length);
  for (const offer of fresh) {
    const left = Math.max(0, Math.round((Date.parse(offer.offer_expires_at) - Date.now()) / 1000)) || "";
    notifier.alert("offers", t("notify.offer_title", { name: offer.customer.name || offer.customer.contact || "" }),
      t("notify.offer_body", { channel: t(`channel.${offer.channel}`), s: left }), `#/c/${offer.id}`);
  }
}

function route() {
  const main = document.getElementById("main");
  const hash = location.hash || "#/inbox";
  const match = hash.match(/^#\/c\/([\w-]+)(?:\/m\/([\w-]+))?$/);
  document.body.dataset.view = match ? "conversation" : hash === "#/supervisor" ? "supervisor"
    : hash === "#/reports" ? "reports" : hash === "#/key-accounts" ? "key-accounts" : hash === "#/health" ? "health"
    : hash === "#/campaigns" ? "campaigns" : hash === "#/feedback" ? "feedback" : "inbox";
  if (match) {
    replace(main, conversation.root);
    conversation.show(match[1]).then(() => { if (match[2]) showMessage(match[2]); });
    if (NARROW.matches) main.scrollIntoView({ block: "start" }); // one column: the conversation is below the inbox
  } else if (hash === "#/key-accounts") {
    conversation.leave();
    replace(main, keyAccounts.root);
    keyAccounts.load().catch((err) => toast(err.message, "error"));
    if (NARROW.matches) main.scrollIntoView({ block: "start" });
  } else if (hash === "#/health" && mayReport()) {
    conversation.leave();
    replace(main, watchlist.root);
    watchlist.load().catch((err) => toast(err.message, "error"));
  } else if (hash === "#/reports" && mayReport()) {
    conversation.leave();
    replace(main, reports.root);
    reports.load().catch((err) => toast(err.message, "error"));
  } else if (hash === "#/feedback") {
    conversation.leave();
    replace(main, feedback.root);
    feedback.load().catch((err) => toast(err.message, "error"));
  } else if (hash === "#/campaigns" && isSupervisor()) {
    conversation.leave();
    replace(main, campaigns.root);
    campaigns.load().catch((err) => toast(err.message, "error"));
  } else if (hash === "#/supervisor" && isSupervisor()) {
    conversation.leave();
    replace(main, supervisor.root);
    supervisor.load();
  } else {
    conversation.leave();
    replace(main, h("p", { class: "empty pick" }, t("inbox.pick")));
  }
}

// The message a search hit names: scrolled to, marked and focused.
function showMessage(messageId) {
  const el = document.querySelector(`li.msg[data-id="${CSS.escape(messageId)}"]`);
  if (!el) return;
  for (const old of document.querySelectorAll("li.msg.found")) old.classList.remove("found");
  el.classList.add("found");
  el.setAttribute("tabindex", "-1");
  el.scrollIntoView({ block: "center" });
  el.focus();
}

function onEvent(event) {
  const d = event.data || {};
  const current = conversation?.id;
  switch (event.topic) {
    case "conversation.viewing":
      if (d.on) {
        const known = state.viewers.get(d.conversation_id)?.has(d.agent_id);
        mark(state.viewers, d.conversation_id, d.agent_id, d.name, 25);
        // a newcomer hears at once who is already here
        if (!known && d.agent_id !== state.me.id && d.conversation_id === current) conversation.announceViewing(true);
      } else state.viewers.get(d.conversation_id)?.delete(d.agent_id);
      conversation.renderPresence();
      return;
    case "conversation.typing":
      // a chat visitor types too (no agent id; their name, if the pre-chat form gave one)
      if (d.visitor && d.on === false) state.typing.get(d.conversation_id)?.delete("visitor");
      else mark(state.typing, d.conversation_id, d.agent_id || "visitor", d.name || t("side.customer"), 5);
      conversation.renderPresence();
      return;
    case "agent.presence":
      if (state.agents.has(d.agent_id)) state.agents.get(d.agent_id).presence = d.presence;
      if (d.agent_id === state.me.id) document.getElementById("presence").value = d.presence;
      break;
    case "conversation.mention":
      if (d.agent_id === state.me.id) {
        announce(t("notice.mention", { by: d.by }));
        toast(t("notice.mention", { by: d.by }));
        notifier.alert("mentions", t("notify.mention_title", { by: d.by }), (d.text || "").slice(0, 200), `#/c/${d.conversation_id}`);
      }
      break;
    case "message.stored": {
      const row = state.conversations.get(d.conversation_id);
      if (row) announce(t("notice.message", { name: row.customer.name || "" }));
      break;
    }
    case "sla.breached":
      announce(t("notice.breach"));
      break;
    case "sla.warning": {
      const name = state.conversations.get(d.conversation_id)?.customer.name || "";
      announce(t("notice.warning", { name }));
      toast(t("notice.warning", { name }));
      if (d.agent_id === state.me.id || isSupervisor()) {
        notifier.alert("sla", t("notify.sla_title", { name }),
          t("notify.sla_body", { kind: t(`breach.${d.kind}`), t: formatClock(d.due) }), `#/c/${d.conversation_id}`);
      }
      break;
    }
    case "health.changed":
      if (d.to === "at_risk" && (d.agent_id === state.me.id || isSupervisor())) {
        const text = t("notice.at_risk", { name: d.name || "" });
        announce(text);
        toast(text, "error");
        notifier.alert("health", text, (d.reasons || []).map((r) => t(`health.signal.${r.signal}`, { name: r.detail?.name || "", trend: "" })).join(" · "), "#/health");
      }
      if (document.body.dataset.view === "health") watchlist.refresh();
      if (conversation?.customer?.id === d.customer_id) conversation.refresh();
      return;
    default:
  }
  inbox.refresh();
  savedViews.refresh();
  if (current && (d.conversation_id === current || event.topic === "agent.presence")) conversation.refresh();
  if (document.body.dataset.view === "supervisor") supervisor.refresh();
  if (document.body.dataset.view === "key-accounts") keyAccounts.refresh();
}

function setLive(status) {
  const el = document.getElementById("live-status");
  el.textContent = t(status === "connected" ? "live.connected" : "live.offline");
  el.className = `live-status ${status}`;
  if (status === "connected") reloadAll();
}

function reloadAll() {
  inbox.refresh();
  conversation.refresh();
  if (document.body.dataset.view === "supervisor") supervisor.refresh();
}

async function setPresence(presence) {
  try { await put("/api/v1/me/presence", { presence }); announce(t(`presence.${presence}`)); }
  catch (err) { toast(err.message, "error"); }
}

function togglePresence() {
  const select = document.getElementById("presence");
  select.value = select.value === "available" ? "away" : "available";
  setPresence(select.value);
}

async function logout() {
  live.stop();
  try { await post("/api/v1/auth/logout"); } finally { sessionStorage.clear(); location.hash = ""; location.reload(); }
}

boot().catch((err) => replace(document.getElementById("app"), h("p", { role: "alert", class: "fatal" }, t("error.generic", { detail: err.message }))));

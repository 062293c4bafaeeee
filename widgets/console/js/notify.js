// Offers, @mentions and SLA warnings reach an agent who is looking elsewhere: a Web
// Notification and a sound, each a preference of the agent's (kept in this browser per
// agent), and the count in the tab title ("(2) ContactHub console").
//
// The browser is asked for permission only when the agent ticks a notification box (a
// click), never on load. Notifications show while the console is not the visible,
// focused tab; the sound plays whenever it is switched on.
import { h } from "./dom.js";
import { t, language } from "./i18n.js";
import { state } from "./state.js";

export const KINDS = ["offers", "mentions", "sla", "health"];
const OFF = { desktop: false, sound: false };

let audio = null;

function supported() { return "Notification" in window; }

export class Notifier {
  constructor() {
    this.offers = 0;  // offers waiting for me
    this.unseen = 0;  // mentions and warnings that came while I looked elsewhere
    this.prefs = this.read();
    document.addEventListener("visibilitychange", () => { if (!this.away()) this.seen(); });
    window.addEventListener("focus", () => this.seen());
  }

  key() { return `contacthub.notify.${state.me?.id || "anonymous"}`; }

  read() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(this.key()) || "{}") || {}; } catch { saved = {}; }
    return Object.fromEntries(KINDS.map((k) => [k, { ...OFF, ...(saved[k] || {}) }]));
  }

  save() { localStorage.setItem(this.key(), JSON.stringify(this.prefs)); }

  away() { return document.visibilityState !== "visible" || !document.hasFocus(); }

  seen() {
    if (!this.unseen) return;
    this.unseen = 0;
    this.title();
  }

  title() {
    const n = this.offers + this.unseen;
    document.title = n ? `(${n}) ${t("app.title")}` : t("app.title");
  }

  setOffers(count) {
    this.offers = count;
    this.title();
  }

  // One event for the agent: counted while away, shown and sounded as they chose.
  alert(kind, title, body, hash) {
    const away = this.away();
    if (away && kind !== "offers") this.unseen += 1;
    this.title();
    const pref = this.prefs[kind] || OFF;
    if (pref.sound) beep();
    if (!pref.desktop || !away || !supported() || Notification.permission !== "granted") return;
    try {
      const note = new Notification(title, { body, tag: `${kind}:${hash}`, lang: language(), renotify: true });
      note.onclick = () => { window.focus(); if (hash) location.hash = hash; note.close(); };
    } catch { /* a browser that only notifies from a service worker: the title and sound still tell */ }
  }

  // The preferences, in a dialog from the header's bell.
  dialog() {
    const message = h("p", { class: "muted", role: "status", id: "notify-message" },
      supported() && Notification.permission === "denied" ? t("notify.denied") : supported() ? "" : t("notify.unsupported"));
    const box = (kind, what) => {
      const input = h("input", { type: "checkbox", id: `notify-${kind}-${what}`, checked: this.prefs[kind][what],
        "aria-label": `${t(`notify.${kind}`)}: ${t(`notify.${what}`)}`, disabled: what === "desktop" && !supported() });
      input.addEventListener("change", async () => {
        if (what === "desktop" && input.checked && Notification.permission !== "granted") {
          const answer = await Notification.requestPermission(); // on this click, never on load
          if (answer !== "granted") {
            input.checked = false;
            message.textContent = t("notify.denied");
          }
        }
        if (what === "sound" && input.checked) beep();
        this.prefs[kind][what] = input.checked;
        this.save();
      });
      return h("td", {}, input);
    };
    const dlg = h("dialog", { id: "notify-dialog", "aria-labelledby": "notify-title" },
      h("h2", { id: "notify-title" }, t("notify.title")),
      h("p", {}, t("notify.intro")),
      h("table", { class: "notify-prefs" },
        h("thead", {}, h("tr", {}, ["kind", "desktop", "sound"].map((k) => h("th", { scope: "col" }, t(`notify.${k}`))))),
        h("tbody", {}, KINDS.map((kind) => h("tr", {}, h("th", { scope: "row" }, t(`notify.${kind}`)), box(kind, "desktop"), box(kind, "sound"))))),
      message,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: () => beep() }, t("notify.test")),
        h("button", { type: "button", class: "primary", onclick: () => dlg.close() }, t("help.close"))));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  }
}

// Two short tones from Web Audio: no sound file, nothing to fetch.
export function beep() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const now = audio.currentTime;
    for (const [at, freq] of [[0, 880], [0.18, 1175]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.15);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.16);
    }
  } catch { /* no audio device: nothing to play on */ }
}

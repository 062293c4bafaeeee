// Keyboard shortcuts, listed on "?". Single keys act only outside text fields.
import { h } from "./dom.js";
import { t } from "./i18n.js";

const KEYS = [
  ["?", "key.help"], ["/", "key.search"], ["g i", "key.inbox"], ["g s", "key.supervisor"], ["g k", "key.key_accounts"], ["j", "key.next"], ["k", "key.prev"],
  ["Enter", "key.open"], ["a", "key.accept"], ["r", "key.reply"], ["n", "key.note"], ["e", "key.close"],
  ["t", "key.transfer"], ["z", "key.snooze"], ["p", "key.presence"], ["Esc", "key.back"],
];

function help() {
  const dlg = h("dialog", { id: "help", "aria-labelledby": "help-title" },
    h("h2", { id: "help-title" }, t("help.title")),
    h("dl", { class: "keys" }, KEYS.map(([key, label]) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, t(label))])),
    h("button", { type: "button", onclick: () => dlg.close() }, t("help.close")));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

export function installShortcuts({ inbox, conversation, presence }) {
  let pendingG = false;
  document.addEventListener("help", help);
  document.addEventListener("keydown", (e) => {
    const target = e.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
    if (e.key === "Escape" && typing) { target.blur(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]")) return;
    const view = conversation();
    if (pendingG) {
      pendingG = false;
      if (e.key === "i") location.hash = "#/inbox";
      if (e.key === "s") location.hash = "#/supervisor";
      if (e.key === "k") location.hash = "#/key-accounts";
      return;
    }
    const click = (id) => document.getElementById(id)?.click();
    const act = {
      "?": help, g: () => { pendingG = true; }, j: () => inbox.move(1), k: () => inbox.move(-1),
      a: () => { const offer = inbox.firstOffer(); if (offer) inbox.accept(offer.id); },
      r: () => { click("tab-reply"); document.getElementById("composer-text")?.focus(); },
      n: () => { click("tab-note"); document.getElementById("composer-text")?.focus(); },
      e: () => click("act-close"), t: () => click("act-transfer"), z: () => click("act-snooze"), p: presence,
      Escape: () => { if (view.id) location.hash = "#/inbox"; },
    }[e.key];
    if (act) { e.preventDefault(); act(); }
  });
}

// An invited agent sets their own password with the token in the link's #fragment
// (a fragment never reaches a server log or a Referer header).
import { h, replace } from "/console/js/dom.js";

const STRINGS = {
  en: { title: "Set your password", password: "New password (at least 10 characters)", again: "The same again",
    submit: "Set password", mismatch: "The two passwords differ.", done: "Your password is set.", signin: "Sign in to the console",
    missing: "This link has no invitation token. Ask an admin for a new link.", network: "The hub cannot be reached. Try again." },
  de: { title: "Passwort festlegen", password: "Neues Passwort (mindestens 10 Zeichen)", again: "Noch einmal dasselbe",
    submit: "Passwort festlegen", mismatch: "Die beiden Passwörter sind verschieden.", done: "Ihr Passwort ist gesetzt.", signin: "Zur Anmeldung in der Konsole",
    missing: "Dieser Link enthält kein Einladungstoken. Bitten Sie einen Admin um einen neuen Link.", network: "Der Hub ist nicht erreichbar. Bitte erneut versuchen." },
};
const lang = (localStorage.getItem("contacthub.lang") || navigator.language || "en").toLowerCase().startsWith("de") ? "de" : "en";
const t = (key) => STRINGS[lang][key];
document.documentElement.lang = lang;
document.title = t("title");

const main = document.getElementById("main");
const token = location.hash.slice(1);
if (!token) {
  replace(main, h("div", { class: "card login" }, h("h1", {}, t("title")), h("p", { role: "alert" }, t("missing"))));
} else {
  const error = h("p", { class: "error", role: "alert", id: "invite-error" });
  const form = h("form", { class: "login card", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    if (data.get("password") !== data.get("again")) { error.textContent = t("mismatch"); return; }
    try {
      const resp = await fetch("/api/v1/auth/invitation", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token, password: data.get("password") }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) { error.textContent = body.detail || resp.statusText; return; }
      history.replaceState(null, "", location.pathname);  // the token is spent: out of the address bar
      replace(main, h("div", { class: "card login" }, h("h1", {}, t("done")), h("p", {}, body.email),
        h("p", {}, h("a", { href: "/console/", id: "to-console" }, t("signin")))));
    } catch { error.textContent = t("network"); }
  } },
  h("h1", {}, t("title")),
  h("label", {}, t("password"), h("input", { name: "password", type: "password", autocomplete: "new-password", minlength: 10, required: true, id: "invite-password" })),
  h("label", {}, t("again"), h("input", { name: "again", type: "password", autocomplete: "new-password", minlength: 10, required: true, id: "invite-again" })),
  error, h("button", { type: "submit", class: "primary" }, t("submit")));
  replace(main, form);
  form.querySelector("input").focus();
}

// The admin pages' entry point: sign-in (admins only), the navigation and the pages.
import { get, post, setCsrf, ApiError } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { showLogin as consoleLogin } from "/console/js/login.js";
import { t, language, setLanguage, LANGUAGES } from "./i18n.js";

const PAGES = {
  rules: () => import("./rules.js"),
  agents: () => import("./agents.js"),
  channels: () => import("./channels.js"),
  sites: () => import("./sites.js"),
  canned: () => import("./canned.js"),
  tokens: () => import("./tokens.js"),
  webhooks: () => import("./webhooks.js"),
  automations: () => import("./automations.js"),
  audit: () => import("./audit.js"),
  import: () => import("./import.js"),
};
const root = () => document.getElementById("app");
let page;

async function boot() {
  document.documentElement.lang = language();
  document.title = t("app.title");
  let me;
  try {
    me = await get("/api/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    throw err;
  }
  setCsrf(me.csrf_token);
  if (me.totp_setup_required) return showLogin({ setup: true });
  if (me.role !== "admin") return notAllowed(t("login.admins_only"));
  layout(me);
  window.addEventListener("hashchange", route);
  route();
}

// The console's sign-in (and two-factor enrolment when it is required), in its strings.
const showLogin = (options) => consoleLogin(root(), boot, options);

function notAllowed(text) {
  replace(root(), h("main", { class: "login-page", id: "main" }, h("div", { class: "card login" },
    h("h1", {}, t("app.title")), h("p", { role: "alert" }, text),
    h("p", {}, h("a", { href: "/console/" }, t("nav.console"))),
    h("button", { type: "button", onclick: signOut }, t("nav.logout")))));
}

async function signOut() {
  try { await post("/api/v1/auth/logout"); } finally { location.reload(); }
}

function layout(me) {
  const lang = h("select", { id: "language", "aria-label": t("nav.language"), onchange: (e) => { setLanguage(e.target.value); location.reload(); } },
    LANGUAGES.map((l) => h("option", { value: l, selected: l === language() }, l.toUpperCase())));
  replace(root(),
    h("header", { class: "top" },
      h("a", { href: "#main", class: "skip" }, t("nav.skip")),
      h("strong", { class: "brand" }, t("app.title")),
      h("a", { href: "/console/" }, t("nav.console")),
      h("span", { class: "spacer" }),
      h("span", { class: "me" }, me.name), lang,
      h("button", { type: "button", id: "logout", onclick: signOut }, t("nav.logout"))),
    h("div", { class: "admin" },
      h("nav", { class: "admin-nav", "aria-label": t("nav.admin") },
        Object.keys(PAGES).map((name) => h("a", { href: `#/${name}`, id: `nav-${name}`,
          onclick: () => { if (location.hash === `#/${name}`) route(); } }, t(`nav.${name}`)))),  // a click reloads the page shown
      h("main", { class: "page", id: "main", tabindex: "-1" })));
}

async function route() {
  const [name = "rules", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const load = PAGES[name] || PAGES.rules;
  for (const a of document.querySelectorAll(".admin-nav a")) {
    if (a.id === `nav-${name}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  const token = (page = Symbol(name));
  replace(main, h("p", { class: "muted" }, t("common.loading")));
  try {
    const module = await load();
    if (token !== page) return;
    await module.render(main, rest.map(decodeURIComponent));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin();
    replace(main, h("p", { class: "field-error", role: "alert" }, err.message || String(err)));
    toast(err.message || String(err), "error");
  }
}

boot().catch((err) => replace(root(), h("p", { class: "field-error", role: "alert" }, err.message || String(err))));

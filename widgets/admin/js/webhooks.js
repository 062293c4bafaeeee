// Outgoing webhooks: register a URL and the events it wants (its signing secret shown
// once), pause and resume, rotate the secret, remove, and each delivery attempt.
import { get, post, patch, api } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, checkbox, showErrors, clearErrors, errorsOf, shownOnce, when } from "./ui.js";

export async function render(root, params, shown) {
  const [id] = params || [];
  if (id) return attempts(root, id);
  const { items, events } = await get("/api/v1/webhooks");
  const q = { name: "", url: "", events: [] };
  const toggle = (name, on) => { q.events = on ? [...q.events, name] : q.events.filter((e) => e !== name); };
  const general = h("div");
  const form = h("form", { class: "card", id: "webhook-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    try {
      const made = await post("/api/v1/webhooks", q);
      render(root, [], shownOnce(t("hooks.secret_of", { name: made.name }), made.secret));
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("div", { class: "grid" },
    field(t("hooks.name"), input("", (v) => { q.name = v; }, { required: true, id: "webhook-name" }), { path: "name" }),
    field(t("hooks.url"), input("", (v) => { q.url = v; }, { required: true, id: "webhook-url", type: "url", placeholder: "https://crm.example/hooks/contacthub" }), { path: "url" }),
    field(t("hooks.events"), h("div", { id: "webhook-events", class: "checks" },
      events.map((name) => checkbox(name, false, (on) => toggle(name, on), { value: name }))), { path: "events" })),
  general, h("button", { class: "primary", type: "submit", id: "webhook-create" }, t("hooks.create")));
  replace(root,
    h("h1", {}, t("hooks.title")), h("p", { class: "muted" }, t("hooks.intro")), shown || null, form,
    h("table", { class: "list", id: "webhooks" },
      h("thead", {}, h("tr", {}, ["name", "url", "events", "status", "last", ""].map((c) => h("th", {}, c && t(`hooks.${c}`))))),
      h("tbody", {}, items.map((w) => h("tr", { id: `webhook-${w.id}` },
        h("td", {}, h("a", { href: `#/webhooks/${w.id}` }, w.name)), h("td", {}, h("code", {}, w.url)),
        h("td", {}, w.events.join(", ")),
        h("td", {}, !w.active ? t("hooks.paused")
          : w.failures ? h("span", { class: "late" }, t("hooks.failing", { n: w.failures, at: when(w.next_attempt_at) })) : t("hooks.ok")),
        h("td", {}, w.last_attempt ? `${when(w.last_attempt.at)} · ${w.last_attempt.status ?? "–"}` : t("hooks.never")),
        h("td", {},
          h("button", { type: "button", class: "pause", onclick: async () => {
            await patch(`/api/v1/webhooks/${w.id}`, { active: !w.active });
            render(root, []);
          } }, t(w.active ? "hooks.pause" : "hooks.resume")), " ",
          h("button", { type: "button", onclick: async () => {
            const { secret } = await post(`/api/v1/webhooks/${w.id}/secret`);
            render(root, [], shownOnce(t("hooks.secret_of", { name: w.name }), secret));
          } }, t("hooks.rotate")), " ",
          h("button", { type: "button", onclick: async () => {
            if (!confirm(t("hooks.delete_confirm", { name: w.name }))) return;
            await api("DELETE", `/api/v1/webhooks/${w.id}`);
            toast(t("hooks.deleted"));
            render(root, []);
          } }, t("hooks.delete"))))))));
}

async function attempts(root, id) {
  const { items } = await get(`/api/v1/webhooks/${id}/attempts?limit=100`);
  replace(root,
    h("h1", {}, t("hooks.attempts")), h("p", {}, h("a", { href: "#/webhooks" }, t("hooks.back"))),
    items.length ? h("table", { class: "list", id: "webhook-attempts" },
      h("thead", {}, h("tr", {}, ["at", "items", "http", "ms", "error"].map((c) => h("th", {}, t(`hooks.a.${c}`))))),
      h("tbody", {}, items.map((a) => h("tr", { class: a.error ? "late" : "" },
        h("td", {}, when(a.at)), h("td", { class: "num" }, String(a.items)), h("td", {}, a.status == null ? "–" : String(a.status)),
        h("td", { class: "num" }, String(a.ms)), h("td", {}, a.error || "")))))
      : h("p", { class: "muted" }, t("hooks.no_attempts")));
}

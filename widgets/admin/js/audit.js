// The audit log: who read or changed what, filtered by customer, agent, action and time.
import { get } from "/console/js/api.js";
import { h, replace } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, select, errorsOf, when } from "./ui.js";

export async function render(root) {
  const agents = (await get("/api/v1/agents")).items;
  const names = new Map(agents.map((a) => [`agent:${a.id}`, a.name]));
  const q = {};
  const out = h("div", { id: "audit-result", "aria-live": "polite" });
  const local = (v) => (v ? new Date(v).toISOString() : "");
  const run = async () => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v) params.set(k, k === "since" || k === "until" ? local(v) : v);
    params.set("limit", "500");
    try {
      const { items } = await get(`/api/v1/audit?${params}`);
      replace(out, items.length ? h("table", { class: "list", id: "audit" },
        h("thead", {}, h("tr", {}, ["at", "actor", "action", "subject", "customer", "reason"].map((c) => h("th", {}, c && t(`audit.${c}`))))),
        h("tbody", {}, items.map((e) => h("tr", {},
          h("td", {}, when(e.at)), h("td", {}, names.get(e.actor) || e.actor), h("td", {}, h("code", {}, e.action)),
          h("td", {}, `${e.subject_type} ${e.subject_id}`),
          h("td", {}, e.customer_id ? h("a", { href: `/console/#/customer/${e.customer_id}` }, e.customer_id) : "–"),
          h("td", {}, e.reason || "")))))
        : h("p", { class: "muted" }, t("audit.none")));
    } catch (err) { replace(out, h("p", { class: "field-error", role: "alert" }, errorsOf(err).map((x) => x.message).join("; "))); }
  };
  replace(root,
    h("h1", {}, t("audit.title")),
    h("form", { class: "card", id: "audit-form", onsubmit: (e) => { e.preventDefault(); run(); } },
      h("div", { class: "grid" },
        field(t("audit.customer"), input("", (v) => { q.customer_id = v.trim(); }, { id: "audit-customer", placeholder: t("audit.customer_hint") })),
        field(t("audit.agent"), select([["", t("audit.anyone")], ...agents.map((a) => [a.id, a.name])], "", (v) => { q.agent_id = v; }, { id: "audit-agent" })),
        field(t("audit.action"), input("", (v) => { q.action = v.trim(); }, { id: "audit-action", placeholder: "customer.*" })),
        field(t("audit.since"), input("", (v) => { q.since = v; }, { type: "datetime-local", id: "audit-since" })),
        field(t("audit.until"), input("", (v) => { q.until = v; }, { type: "datetime-local", id: "audit-until" }))),
      h("button", { class: "primary", type: "submit", id: "audit-run" }, t("audit.search"))),
    out);
  run();
}

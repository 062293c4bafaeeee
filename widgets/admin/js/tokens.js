// API tokens: create one with its scopes (shown once), see when each was last used, revoke.
import { get, post, api } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, checkbox, showErrors, clearErrors, errorsOf, shownOnce, when } from "./ui.js";

export async function render(root, _params, created) {
  const { items, scopes } = await get("/api/v1/tokens");
  const q = { name: "", scopes: [Object.keys(scopes)[0]] };
  const toggle = (scope, on) => { q.scopes = on ? [...q.scopes, scope] : q.scopes.filter((s) => s !== scope); };
  const general = h("div");
  const form = h("form", { class: "card", id: "token-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    try {
      const made = await post("/api/v1/tokens", q);
      render(root, [], shownOnce(t("tokens.made", { name: made.name }), made.token));
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("div", { class: "grid" },
    field(t("tokens.name"), input("", (v) => { q.name = v; }, { required: true, id: "token-name", placeholder: t("tokens.name_hint") }), { path: "name" }),
    field(t("tokens.scope"), h("div", { id: "token-scopes" }, Object.entries(scopes).map(([s, what]) =>
      checkbox(`${s} – ${what}`, q.scopes.includes(s), (on) => toggle(s, on), { value: s }))), { path: "scopes" })),
  general, h("button", { class: "primary", type: "submit", id: "token-create" }, t("tokens.create")));
  replace(root,
    h("h1", {}, t("tokens.title")), created || null, form,
    h("table", { class: "list", id: "tokens" },
      h("thead", {}, h("tr", {}, ["name", "scope", "created", "last_used", "status", ""].map((c) => h("th", {}, c && t(`tokens.${c}`))))),
      h("tbody", {}, items.map((tk) => h("tr", { id: `token-${tk.id}` },
        h("td", {}, tk.name), h("td", {}, tk.scopes.join(", ")), h("td", {}, when(tk.created_at)),
        h("td", {}, tk.last_used_at ? when(tk.last_used_at) : t("tokens.never")),
        h("td", {}, tk.revoked_at ? t("tokens.revoked_at", { at: when(tk.revoked_at) }) : t("tokens.active")),
        h("td", {}, tk.revoked_at ? null : h("button", { type: "button", onclick: async () => {
          if (!confirm(t("tokens.revoke_confirm", { name: tk.name }))) return;
          await api("DELETE", `/api/v1/tokens/${tk.id}`);
          toast(t("tokens.revoked"));
          render(root, []);
        } }, t("tokens.revoke"))))))));
}

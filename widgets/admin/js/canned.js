// Canned responses: shared ones (no team) and per team.
import { get, post, patch, api } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, showErrors, clearErrors, errorsOf } from "./ui.js";

const BASE = "/api/v1/canned-responses";

export async function render(root) {
  const items = (await get(BASE)).items;
  const editor = h("section", { id: "canned-editor" });
  const reload = () => render(root);
  replace(root,
    h("h1", {}, t("canned.title")),
    h("p", { class: "muted" }, t("canned.hint")),
    h("div", { class: "actions" }, h("button", { class: "primary", id: "new-canned", onclick: () => edit(editor, null, reload) }, t("canned.new"))),
    editor,
    h("table", { class: "list", id: "canned" },
      h("thead", {}, h("tr", {}, ["shortcut", "title_field", "team", "body", ""].map((c) => h("th", {}, c && t(`canned.${c}`))))),
      h("tbody", {}, items.map((c) => h("tr", {},
        h("td", {}, h("code", {}, `/${c.shortcut}`)), h("td", {}, c.title), h("td", {}, c.team || t("canned.shared")),
        h("td", {}, c.body.length > 120 ? `${c.body.slice(0, 120)}…` : c.body),
        h("td", {},
          h("button", { type: "button", onclick: () => edit(editor, c, reload) }, t("common.edit")),
          h("button", { type: "button", class: "link", onclick: async () => {
            if (!confirm(t("canned.delete_confirm", { shortcut: c.shortcut }))) return;
            await api("DELETE", `${BASE}/${c.id}`); toast(t("canned.deleted")); reload();
          } }, t("common.delete"))))))));
}

function edit(box, item, done) {
  const c = item ? { ...item } : { title: "", shortcut: "", body: "", team: null };
  const general = h("div");
  const form = h("form", { class: "card", id: "canned-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    const body = { title: c.title, shortcut: c.shortcut, body: c.body, team: c.team || null };
    try {
      if (item) await patch(`${BASE}/${item.id}`, body); else await post(BASE, body);
      toast(t("canned.saved"));
      done();
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("div", { class: "grid" },
    field(t("canned.shortcut"), input(c.shortcut, (v) => { c.shortcut = v; }, { required: true, pattern: "[a-z0-9][a-z0-9_-]*", id: "canned-shortcut" }), { path: "shortcut" }),
    field(t("canned.title_field"), input(c.title, (v) => { c.title = v; }, { required: true, id: "canned-title" }), { path: "title" }),
    field(t("canned.team"), input(c.team, (v) => { c.team = v.trim() || null; }, { id: "canned-team", placeholder: t("canned.shared") }), { path: "team" })),
  field(t("canned.body"), h("textarea", { rows: 5, required: true, id: "canned-body", oninput: (e) => { c.body = e.target.value; } }, c.body),
    { path: "body", hint: t("canned.placeholders") }),
  general,
  h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, t("common.save")),
    h("button", { type: "button", onclick: () => replace(box) }, t("common.cancel"))));
  replace(box, form);
}

// Widget sites: the websites that embed the chat widget. Origins, colours, greeting,
// languages, departments offered, pre-chat fields, business hours, uploads; the embed
// snippet, the identity secret (shown when made or rotated), and a live preview.
import { get, post, patch } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, numberInput, checkbox, select, listInput, showErrors, clearErrors, errorsOf, shownOnce, copyButton } from "./ui.js";

const BASE = "/api/v1/widget/sites";
const ASK = ["required", "optional", "off"];

export async function render(root, [selected]) {
  const sites = (await get(BASE)).items;
  const editor = h("section", { id: "site-editor" });
  replace(root,
    h("h1", {}, t("sites.title")),
    h("div", { class: "actions" }, h("button", { class: "primary", id: "new-site", onclick: () => drawEditor(editor, null, root) }, t("sites.new"))),
    editor,
    h("table", { class: "list", id: "sites" },
      h("thead", {}, h("tr", {}, ["name", "key", "origins", "status", ""].map((c) => h("th", {}, c && t(`sites.${c}`))))),
      h("tbody", {}, sites.map((s) => h("tr", { id: `site-${s.key}` },
        h("td", {}, s.name), h("td", {}, h("code", {}, s.key)), h("td", {}, s.allowed_origins.join(", ")),
        h("td", {}, s.active ? t("sites.active") : t("sites.inactive")),
        h("td", {}, h("button", { type: "button", onclick: () => drawEditor(editor, s, root) }, t("common.edit"))))))));
  const current = sites.find((s) => s.key === selected);
  if (current) drawEditor(editor, current, root);
}

function snippet(site) {
  return site.snippet.replace('src="/', `src="${location.origin}/`);
}

function hoursText(open) {
  return Object.entries(open || {}).map(([d, spans]) => `${d}: ${spans.join(", ")}`).join("\n");
}
function hoursOf(text) {
  const open = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) open[line.slice(0, at).trim()] = line.slice(at + 1).split(",").map((x) => x.trim()).filter(Boolean);
  }
  return open;
}

function drawEditor(box, site, root) {
  const creating = !site;
  const s = site ? structuredClone(site) : { name: "", allowed_origins: [], active: true, settings: {
    colors: { primary: "#0b5fff", on_primary: "#ffffff" }, greeting: { de: "Hallo! Wie können wir helfen?", en: "Hello! How can we help?" },
    languages: ["en", "de"], departments: [], prechat: { name: "optional", email: "optional", phone: "off" }, hours: null,
    uploads: { max_bytes: 10485760, types: ["image/png", "image/jpeg", "application/pdf"] } } };
  const st = s.settings;
  st.departments ||= [];
  const general = h("div");
  const once = h("div", { id: "site-secret" });
  const deps = h("div", {});
  const drawDeps = () => replace(deps, st.departments.map((d, i) => h("div", { class: "grid" },
    field(t("sites.department_id"), input(d.id, (v) => { d.id = v; }, { list: "site-departments" }), { path: `settings.departments.${i}.id` }),
    field(t("sites.label_de"), input(d.label?.de, (v) => { d.label = { ...d.label, de: v }; })),
    field(t("sites.label_en"), input(d.label?.en, (v) => { d.label = { ...d.label, en: v }; })),
    h("button", { type: "button", class: "link", onclick: () => { st.departments.splice(i, 1); drawDeps(); } }, t("channels.remove")))));
  drawDeps();
  const custom = !!st.hours;
  const hours = st.hours || { timezone: "Europe/Berlin", open: { "mon-fri": ["08:00-18:00"] } };
  const hoursBox = h("div", { class: "grid", hidden: !custom },
    field(t("rules.timezone"), input(hours.timezone, (v) => { hours.timezone = v; }), { path: "settings.hours.timezone" }),
    field(t("rules.country"), input(hours.country, (v) => { hours.country = v || null; }, { size: 4 }), { hint: t("rules.holidays_hint") }),
    field(t("rules.subdivision"), input(hours.subdivision, (v) => { hours.subdivision = v || null; }, { size: 4 })),
    field(t("rules.open"), h("textarea", { rows: 3, class: "expr", oninput: (e) => { hours.open = hoursOf(e.target.value); } }, hoursText(hours.open)), { path: "settings.hours" }));
  const preview = h("div", { id: "site-preview" });
  const showPreview = (key) => replace(preview, h("h3", {}, t("sites.preview")),
    h("iframe", { class: "preview", title: t("sites.preview"), src: `/demo/?site=${encodeURIComponent(key)}&v=${Date.now()}` }));
  const form = h("form", { class: "card", id: "site-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    st.hours = hoursBox.hidden ? null : hours;
    const body = { name: s.name, allowed_origins: s.allowed_origins, settings: st, active: s.active };
    if (creating && s.key) body.key = s.key;
    try {
      const saved = creating ? await post(BASE, body) : await patch(`${BASE}/${encodeURIComponent(s.key)}`, body);
      toast(t("sites.saved"));
      if (creating) {
        await render(root, [saved.key]);
        const editor = document.getElementById("site-secret");
        if (editor) replace(editor, shownOnce(t("sites.secret"), saved.secret), h("p", { class: "muted" }, t("sites.secret_hint")));
        return;
      }
      showPreview(saved.key);
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("h2", {}, creating ? t("sites.new") : t("sites.edit", { name: s.name })),
  h("div", { class: "grid" },
    field(t("sites.name"), input(s.name, (v) => { s.name = v; }, { required: true, id: "site-name" }), { path: "name" }),
    creating ? field(t("sites.key"), input("", (v) => { s.key = v || undefined; }, { id: "site-key", placeholder: t("sites.key_hint") }), { path: "key" }) : null,
    field(t("sites.origins"), listInput(s.allowed_origins, (v) => { s.allowed_origins = v; }, { id: "site-origins", placeholder: "https://shop.example" }), { path: "allowed_origins" }),
    checkbox(t("sites.active"), s.active, (v) => { s.active = v; }),
    field(t("sites.primary"), input(st.colors.primary, (v) => { st.colors.primary = v; }, { type: "color" }), { path: "settings.colors.primary" }),
    field(t("sites.on_primary"), input(st.colors.on_primary, (v) => { st.colors.on_primary = v; }, { type: "color" }), { path: "settings.colors.on_primary" }),
    field(t("sites.greeting_de"), input(st.greeting.de, (v) => { st.greeting.de = v; }), { path: "settings.greeting.de" }),
    field(t("sites.greeting_en"), input(st.greeting.en, (v) => { st.greeting.en = v; }), { path: "settings.greeting.en" })),
  h("fieldset", { "data-path": "settings.languages" }, h("legend", {}, t("sites.languages")),
    ["de", "en"].map((l) => checkbox(l.toUpperCase(), st.languages.includes(l), (on) => {
      st.languages = on ? [...new Set([...st.languages, l])] : st.languages.filter((x) => x !== l);
    }))),
  h("fieldset", {}, h("legend", {}, t("sites.departments")), deps,
    h("button", { type: "button", onclick: () => { st.departments.push({ id: "", label: { de: "", en: "" } }); drawDeps(); } }, t("sites.add_department")),
    h("datalist", { id: "site-departments" }, ["service", "sales", "marketing", "rnd"].map((d) => h("option", { value: d })))),
  h("fieldset", {}, h("legend", {}, t("sites.prechat")), h("div", { class: "grid" },
    ["name", "email", "phone"].map((k) => field(t(`sites.ask_${k}`), select(ASK.map((a) => [a, t(`sites.${a}`)]), st.prechat[k], (v) => { st.prechat[k] = v; }), { path: `settings.prechat.${k}` })))),
  h("fieldset", {}, h("legend", {}, t("sites.hours")),
    checkbox(t("rules.always_open"), !custom, (always) => { hoursBox.hidden = always; }), hoursBox),
  h("fieldset", {}, h("legend", {}, t("sites.uploads")), h("div", { class: "grid" },
    field(t("sites.max_bytes"), numberInput(st.uploads.max_bytes, (v) => { st.uploads.max_bytes = v; }, { min: 1024 }), { path: "settings.uploads.max_bytes" }),
    field(t("sites.types"), listInput(st.uploads.types, (v) => { st.uploads.types = v; }), { path: "settings.uploads.types" }))),
  general,
  h("div", { class: "actions" },
    h("button", { class: "primary", type: "submit", id: "site-save" }, creating ? t("sites.create") : t("common.save")),
    creating ? null : h("button", { type: "button", id: "site-rotate", onclick: async () => {
      if (!confirm(t("sites.rotate_confirm"))) return;
      const rotated = await post(`${BASE}/${encodeURIComponent(s.key)}/secret`);
      replace(once, shownOnce(t("sites.secret"), rotated.secret), h("p", { class: "muted" }, t("sites.secret_hint")));
    } }, t("sites.rotate"))));
  const extras = creating ? [] : [
    h("section", { class: "card" }, h("h3", {}, t("sites.snippet")), h("pre", { class: "trace", id: "site-snippet" }, snippet(s)), copyButton(snippet(s)),
      h("p", { class: "muted" }, t("sites.identity_hint"))),
    once, preview];
  replace(box, form, ...extras);
  if (!creating) showPreview(s.key);
}

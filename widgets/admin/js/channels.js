// Channels: every connector's live state, and one page per settings section with its
// provider URLs (copy buttons) and a form built from the settings' own schema. Secrets
// are write-only: the hub says only whether one is set, and sending {"$secret": "set"}
// back keeps it.
import { get, post, put } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, checkbox, showErrors, clearErrors, errorsOf, copyButton, when } from "./ui.js";

const SECTION_OF = { sms_twilio: "twilio", whatsapp_twilio: "twilio", voice_twilio: "twilio" };
const KEEP = { $secret: "set" };

export async function render(root, [section]) {
  const channels = (await get("/api/v1/channels")).items;
  if (section) return renderSection(root, section, channels.filter((c) => (SECTION_OF[c.name] || c.name) === section));
  const sections = [...new Set(channels.map((c) => SECTION_OF[c.name] || c.name))];
  replace(root,
    h("h1", {}, t("channels.title")),
    h("table", { class: "list", id: "channels" },
      h("thead", {}, h("tr", {}, ["connector", "enabled", "sends", "state", ""].map((c) => h("th", {}, c && t(`channels.${c}`))))),
      h("tbody", {}, channels.map((c) => h("tr", { id: `channel-${c.name}` },
        h("td", {}, c.name, " ", h("span", { class: `badge channel ch-${c.channel}` }, c.channel)),
        h("td", {}, c.enabled ? t("common.yes") : t("common.no")),
        h("td", {}, c.sends ? t("common.yes") : t("common.no")),
        h("td", {}, partsView(c.parts)),
        h("td", {}, h("a", { href: `#/channels/${SECTION_OF[c.name] || c.name}` }, t("channels.configure"))))))),
    h("p", { class: "muted" }, t("channels.sections_hint", { sections: sections.join(", ") })));
}

function partsView(parts) {
  const entries = Object.entries(parts || {});
  if (!entries.length) return h("span", { class: "muted" }, "–");
  return h("ul", {}, entries.map(([name, p]) => h("li", {},
    h("strong", {}, name), ": ", h("span", { class: `state-${p.state}` }, t(`state.${p.state}`)),
    p.detail ? h("div", { class: "muted" }, p.detail) : null, p.since ? h("div", { class: "muted" }, when(p.since)) : null)));
}

async function renderSection(root, name, connectors) {
  const view = await get(`/api/v1/channels/${encodeURIComponent(name)}/settings`);
  const doc = structuredClone(view.values);
  const general = h("div", { id: "settings-errors" });
  const banner = h("div", { id: "settings-banner", role: "status" }, bannerFor(view));
  const locked = !!view.locked_by_environment;
  const form = h("form", { class: "card", id: "settings-form", onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form, general);
    try {
      const saved = await put(`/api/v1/channels/${encodeURIComponent(name)}/settings`, doc);
      toast(t("channels.saved"));
      replace(banner, bannerFor(saved));
      renderSection(root, name, connectors);
    } catch (err) { showErrors(form, errorsOf(err), general); }
  } },
  h("fieldset", { disabled: locked }, objectFields(view.schema, view.schema.$defs || {}, doc, "")),
  general,
  h("button", { class: "primary", type: "submit", id: "settings-save", disabled: locked }, t("common.save")));
  replace(root,
    h("p", {}, h("a", { href: "#/channels" }, t("channels.back"))),
    h("h1", {}, t("channels.section_title", { name })),
    connectors.map((c) => h("div", { class: "card" }, h("strong", {}, c.name), " – ",
      c.enabled ? t("channels.on") : t("channels.off"), partsView(c.parts))),
    view.provider_urls.length ? h("section", { class: "card", "aria-labelledby": "h-urls" },
      h("h2", { id: "h-urls" }, t("channels.provider_urls")),
      h("table", { class: "list", id: "provider-urls" }, h("tbody", {}, view.provider_urls.map((u) => h("tr", {},
        h("td", {}, u.purpose), h("td", {}, h("code", {}, `${u.method} ${u.url}`)), h("td", {}, copyButton(u.url)))))),
      name === "cti" ? h("p", { class: "muted" }, t("channels.cti_token_hint")) : null)
      : h("p", { class: "muted" }, t("channels.no_urls")),
    banner, form, ["email", "twilio"].includes(name) ? testSend(name) : null);
}

// One message straight to the provider, with the settings the hub runs on now.
function testSend(name) {
  const to = h("input", { id: "test-to", required: true, placeholder: name === "email" ? "you@example.com" : "+49…" });
  const result = h("p", { id: "test-result", role: "status" });
  return h("form", { class: "card", id: "test-form", onsubmit: async (e) => {
    e.preventDefault();
    result.textContent = t("channels.test_sending");
    try {
      const res = await post(`/api/v1/channels/${encodeURIComponent(name)}/test`, { to: to.value });
      result.className = res.sent ? "status-line good" : "status-line bad";
      result.textContent = res.sent ? t("channels.test_sent", { id: res.provider_ids.join(", ") }) : t("channels.test_failed", { error: res.error });
    } catch (err) {
      result.className = "status-line bad";
      result.textContent = errorsOf(err).map((x) => x.message).join("; ");
    }
  } },
  h("h2", {}, t("channels.test_title")), h("p", { class: "muted" }, t("channels.test_hint")),
  h("div", { class: "actions" }, field(t("channels.test_to"), to), h("button", { type: "submit", id: "test-send" }, t("channels.test_send"))), result);
}

function bannerFor(view) {
  if (view.locked_by_environment) return h("p", { class: "shown-once" }, t("channels.locked", { variable: view.locked_by_environment }));
  if (view.restart_needed) return h("p", { class: "shown-once", id: "restart-needed" }, t("channels.restart_needed"));
  if (view.saved) return h("p", { class: "muted" }, t("channels.saved_by", { by: view.saved.by, at: when(view.saved.at) }));
  return h("p", { class: "muted" }, t("channels.from_file"));
}

const resolve = (s, defs) => (s && s.$ref ? defs[s.$ref.split("/").pop()] : s) || {};
function unwrap(s, defs) {
  if (s.anyOf) {
    const options = s.anyOf.filter((x) => x.type !== "null");
    return { schema: { ...resolve(options[0], defs), description: s.description, default: s.default, title: s.title }, nullable: options.length < s.anyOf.length };
  }
  return { schema: { ...resolve(s, defs), description: s.description ?? resolve(s, defs).description, title: s.title }, nullable: false };
}

function objectFields(schema, defs, obj, prefix) {
  const simple = [], nested = [];
  for (const [key, raw] of Object.entries(schema.properties || {})) {
    const { schema: s, nullable } = unwrap(raw, defs);
    const path = prefix ? `${prefix}.${key}` : key;
    const label = s.title || key;
    if (s.type === "object" && s.properties) {
      nested.push(nestedObject(label, s, defs, obj, key, path, nullable));
    } else if (s.type === "object" && s.additionalProperties) {
      nested.push(namedObjects(label, resolve(s.additionalProperties, defs), defs, obj, key, path));
    } else if (s.type === "array" && resolve(s.items, defs).properties) {
      nested.push(objectList(label, resolve(s.items, defs), defs, obj, key, path));
    } else {
      simple.push(scalarField(label, s, obj, key, path, nullable));
    }
  }
  return [h("div", { class: "grid" }, simple), ...nested];
}

function scalarField(label, s, obj, key, path, nullable) {
  const hint = s.description;
  if (s.writeOnly || s.format === "password") {
    const isSet = obj[key] && obj[key].$secret === "set";
    const state = h("span", { class: "secret-state" }, isSet ? t("channels.secret_set") : t("channels.secret_unset"));
    const box = h("input", { type: "password", autocomplete: "new-password", placeholder: isSet ? t("channels.secret_keep") : "",
      oninput: (e) => { obj[key] = e.target.value ? e.target.value : isSet ? KEEP : null; } });
    return h("div", {}, field(label, box, { path, hint }), state,
      isSet && nullable ? h("button", { type: "button", class: "link", onclick: () => { obj[key] = null; box.value = ""; state.textContent = t("channels.secret_cleared"); } }, t("channels.secret_clear")) : null);
  }
  if (s.type === "boolean") return checkbox(label, obj[key], (v) => { obj[key] = v; }, { "data-path": path });
  if (s.enum) {
    return field(label, h("select", { onchange: (e) => { obj[key] = e.target.value; } },
      s.enum.map((v) => h("option", { value: v, selected: v === obj[key] }, String(v)))), { path, hint });
  }
  if (s.type === "array") {
    return field(label, h("input", { value: (obj[key] || []).join(", "),
      oninput: (e) => { obj[key] = e.target.value.split(",").map((x) => x.trim()).filter(Boolean); } }), { path, hint: hint || t("channels.comma_list") });
  }
  if (s.type === "integer" || s.type === "number") {
    return field(label, h("input", { type: "number", value: obj[key] ?? "", step: s.type === "integer" ? 1 : "any", min: s.minimum, max: s.maximum,
      oninput: (e) => { obj[key] = e.target.value === "" ? (nullable ? null : undefined) : Number(e.target.value); } }), { path, hint });
  }
  return field(label, h("input", { value: obj[key] ?? "",
    oninput: (e) => { obj[key] = e.target.value === "" && nullable ? null : e.target.value; } }), { path, hint });
}

function nestedObject(label, s, defs, obj, key, path, nullable) {
  const body = h("div", {});
  const draw = () => replace(body, obj[key] ? objectFields(s, defs, obj[key], path) : null);
  draw();
  return h("fieldset", { "data-path": path }, h("legend", {}, label),
    nullable ? checkbox(t("channels.configure_part"), !!obj[key], (on) => { obj[key] = on ? {} : null; draw(); }) : null,
    s.description ? h("p", { class: "muted" }, s.description) : null, body);
}

function objectList(label, item, defs, obj, key, path) {
  obj[key] ||= [];
  const body = h("div", {});
  const draw = () => replace(body, obj[key].map((entry, i) => h("fieldset", { "data-path": `${path}.${i}` },
    h("legend", {}, `${label} ${i + 1}`), objectFields(item, defs, entry, `${path}.${i}`),
    h("button", { type: "button", class: "link", onclick: () => { obj[key].splice(i, 1); draw(); } }, t("channels.remove")))));
  draw();
  return h("fieldset", {}, h("legend", {}, label), body,
    h("button", { type: "button", onclick: () => { obj[key].push({}); draw(); } }, t("channels.add", { what: label })));
}

function namedObjects(label, item, defs, obj, key, path) {
  obj[key] ||= {};
  const body = h("div", {});
  const name = h("input", { placeholder: t("channels.entry_name"), pattern: "[A-Za-z0-9_-]+", "aria-label": t("channels.entry_name") });
  const draw = () => replace(body, Object.keys(obj[key]).map((n) => h("fieldset", { "data-path": `${path}.${n}` },
    h("legend", {}, n), objectFields(item, defs, obj[key][n], `${path}.${n}`),
    h("button", { type: "button", class: "link", onclick: () => { delete obj[key][n]; draw(); } }, t("channels.remove")))));
  draw();
  return h("fieldset", {}, h("legend", {}, label), body,
    h("div", { class: "actions" }, name, h("button", { type: "button", onclick: () => {
      const n = name.value.trim();
      if (!n || obj[key][n]) return;
      obj[key][n] = {};
      name.value = "";
      draw();
    } }, t("channels.add", { what: label }))));
}

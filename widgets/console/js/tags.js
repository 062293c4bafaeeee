// A conversation's department and tags (set by the routing rules, added and removed by
// agents), and the list of tags in use that the inputs offer for autocomplete.
import { get, post, del } from "./api.js";
import { h, replace, toast, announce } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";

const OPTIONS_ID = "tag-options";

// One <datalist> for every tag input: the tags in use.
export function tagOptions() {
  let list = document.getElementById(OPTIONS_ID);
  if (!list) {
    list = h("datalist", { id: OPTIONS_ID });
    document.body.append(list);
  }
  return list;
}

export async function loadTags() {
  try { state.tags = (await get("/api/v1/tags")).items; } catch { state.tags = []; }
  replace(tagOptions(), state.tags.map((tag) => h("option", { value: tag })));
}

export function departmentBadge(department) {
  if (!department) return null;
  return h("span", { class: "badge department", title: t("tags.department") }, department);
}

// The department and tags as a row's or the header's line; read-only.
export function tagLine(conv) {
  const tags = conv.tags || [];
  if (!conv.department && !tags.length) return null;
  return h("span", { class: "tag-line" }, departmentBadge(conv.department),
    tags.map((tag) => h("span", { class: "tag" }, tag)));
}

// The header's editor: each tag with a remove button, and an input to add one.
export function tagEditor(conv, onChange) {
  tagOptions();
  const input = h("input", { type: "text", id: "tag-input", name: "tag", list: OPTIONS_ID, maxlength: 40,
    autocomplete: "off", "aria-label": t("tags.new"), placeholder: t("tags.new") });
  const change = async (call, message) => {
    try {
      await call();
      input.value = "";
      announce(message);
      await loadTags();
      onChange();
    } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  };
  const form = h("form", { class: "tag-add", onsubmit: (e) => {
    e.preventDefault();
    const tag = input.value.trim();
    if (!tag) return;
    change(() => post(`/api/v1/conversations/${conv.id}/tags`, { tag }), t("tags.added", { tag }));
  } }, input, h("button", { type: "submit", id: "tag-add" }, t("tags.add")));
  const chips = (conv.tags || []).map((tag) => h("li", { class: "tag" }, tag,
    h("button", { type: "button", class: "link tag-remove", "aria-label": t("tags.remove", { tag }),
      onclick: () => change(() => del(`/api/v1/conversations/${conv.id}/tags/${encodeURIComponent(tag)}`), t("tags.removed", { tag })) }, "×")));
  return h("div", { class: "conv-tags", role: "group", "aria-label": t("tags.label") },
    departmentBadge(conv.department),
    chips.length ? h("ul", { class: "tag-list", "aria-label": t("tags.label") }, chips) : h("span", { class: "muted" }, t("tags.none")),
    form);
}

// Above the inbox: narrow it to one tag (GET /api/v1/conversations?tag=).
export function tagFilter(current, onChange) {
  tagOptions();
  const input = h("input", { type: "search", id: "tag-filter", list: OPTIONS_ID, value: current || "", maxlength: 40,
    autocomplete: "off", placeholder: t("tags.filter"), onchange: () => apply(input.value) });
  const apply = (value) => { onChange(value.trim() || null); };
  return h("form", { class: "tag-filter", role: "search", onsubmit: (e) => { e.preventDefault(); apply(input.value); } },
    h("label", { for: "tag-filter", class: "sr-only" }, t("tags.filter")), input,
    current ? h("button", { type: "button", id: "tag-filter-clear", onclick: () => apply("") }, t("tags.clear"))
      : h("button", { type: "submit" }, t("tags.apply")));
}

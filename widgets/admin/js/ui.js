// Small form helpers shared by the admin pages. Every value a user or the hub supplies
// becomes textContent or an attribute, never markup (see /console/js/dom.js).
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

// A labelled control; `path` names the value in the document the hub validates, so that
// an error the hub reports for that path is shown right under it.
export function field(label, control, { path, hint } = {}) {
  if (!control.id) control.id = nextId();
  if (path) control.dataset.path = path;
  return h("label", { class: "field", for: control.id }, label, control, hint ? h("span", { class: "muted" }, hint) : null);
}

export function input(value, oninput, attrs = {}) {
  return h("input", { value: value ?? "", ...attrs, oninput: (e) => oninput(e.target.value) });
}

export function numberInput(value, oninput, attrs = {}) {
  return h("input", {
    type: "number", value: value ?? "", ...attrs,
    oninput: (e) => oninput(e.target.value === "" ? undefined : Number(e.target.value)),
  });
}

export function checkbox(label, checked, onchange, attrs = {}) {
  const box = h("input", { type: "checkbox", checked: !!checked, ...attrs, onchange: (e) => onchange(e.target.checked) });
  return h("label", { class: "check" }, box, label);
}

export function select(options, value, onchange, attrs = {}) {
  return h("select", { ...attrs, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

// A list typed as comma-separated words ("de, en").
export const words = (text) => String(text || "").split(",").map((w) => w.trim()).filter(Boolean);
export function listInput(values, onchange, attrs = {}) {
  return input((values || []).join(", "), (text) => onchange(words(text)), attrs);
}

// Errors the hub reported, each under the control whose data-path it names; the rest
// in `general`. An expression error marks the character at its position.
export function showErrors(root, errors, general) {
  clearErrors(root, general);
  const unplaced = [];
  for (const err of errors || []) {
    const target = err.field ? root.querySelector(`[data-path="${CSS.escape(err.field)}"]`) : null;
    if (!target) { unplaced.push(err); continue; }
    const box = h("p", { class: "field-error", id: nextId("err"), role: "alert" }, err.message);
    if (err.position !== null && err.position !== undefined && "value" in target) {
      const text = target.value, at = Math.min(err.position, text.length);
      box.append(h("br"), h("code", { "aria-hidden": "true" }, text.slice(0, at), h("mark", {}, text.slice(at, at + 1) || " "), text.slice(at + 1)),
        " ", h("span", {}, t("error.position", { n: at + 1 })));
    }
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", box.id);
    (target.closest("label") || target).after(box);
  }
  if (general) replace(general, unplaced.map((e) => h("p", { class: "field-error", role: "alert" }, e.message)));
  return unplaced.length;
}

export function clearErrors(root, general) {
  root.querySelectorAll(".field-error").forEach((el) => { if (!general || !general.contains(el)) el.remove(); });
  root.querySelectorAll("[aria-invalid]").forEach((el) => { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); });
  if (general) replace(general);
}

// The errors of an ApiError as the list showErrors takes (field-level or the detail).
export function errorsOf(err) {
  const p = err?.problem || {};
  if (Array.isArray(p.errors) && p.errors.length) return p.errors;
  return [{ field: p.field || null, message: err.status === 0 ? t("error.network") : err.message }];
}

export function copyButton(text, label = t("common.copy")) {
  return h("button", { type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(text); toast(t("common.copied")); }
    catch { toast(t("common.copy_failed"), "error"); }
  } }, label);
}

// A value shown once (a new token, a secret, an invitation link), with a copy button.
export function shownOnce(title, value) {
  return h("div", { class: "shown-once", role: "status" }, h("strong", {}, title), " ",
    h("code", { class: "once" }, value), " ", copyButton(value), h("p", { class: "muted" }, t("common.shown_once")));
}

// A unified diff, coloured by line.
export function diffView(text) {
  if (!text) return h("p", { class: "muted" }, t("rules.no_changes"));
  return h("pre", { class: "diff" }, text.split("\n").map((line) => h("span", {
    class: line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : "",
  }, line + "\n")));
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function when(iso) {
  return iso ? new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "short", timeStyle: "short" }).format(new Date(iso)) : "–";
}

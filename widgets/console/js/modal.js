// A modal dialog with a form: Cancel, and a submit button that hands the form's data over.
// The native <dialog> keeps the focus inside and closes on Escape.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export function modal(title, fields, submitLabel, onSubmit, { danger = false } = {}) {
  const form = h("form", { method: "dialog", class: "dialog-form" }, h("h2", {}, title), fields,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("common.cancel")),
      h("button", { type: "submit", class: danger ? "danger" : "primary" }, submitLabel)));
  const dlg = h("dialog", { "aria-label": title }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    dlg.close();
    await onSubmit(data);
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

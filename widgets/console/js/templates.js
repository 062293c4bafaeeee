// WhatsApp's approved templates: outside the 24-hour window after the customer's last
// message only these go. A picker (the template, a field per placeholder, the text it
// makes) for the composer and the new-conversation dialog; ids start with ``prefix``.
import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { t, formatTime } from "./i18n.js";

export class TemplatePicker {
  constructor(prefix) {
    this.templates = [];
    this.pick = h("select", { id: `${prefix}-template`, "aria-label": t("wa.template"), onchange: () => this.render() });
    this.fields = h("div", { class: "template-fields" });
    this.preview = h("p", { id: `${prefix}-template-preview`, class: "preview" });
    this.prefix = prefix;
    this.window = h("p", { id: `${prefix}-whatsapp-window`, class: "muted", role: "status" });
    this.box = h("div", { class: "template-box", id: `${prefix}-templates`, hidden: true },
      h("label", { class: "inline" }, t("wa.template"), " ", this.pick), this.fields, this.preview);
  }

  // The customer's window and the templates; whether free text may go now.
  async load(customerId) {
    const info = await get(`/api/v1/customers/${customerId}/whatsapp`);
    // asked again (the channel picked twice, a live event): what was typed stays
    if (JSON.stringify(info.templates) !== JSON.stringify(this.templates) || !this.fields.childElementCount) {
      this.templates = info.templates;
      replace(this.pick, info.templates.map((tpl, n) => h("option", { value: String(n) }, `${tpl.name} (${tpl.language})`)));
      this.render();
    }
    const w = info.window;
    this.window.textContent = w.open ? t("wa.open_until", { time: formatTime(w.closes_at) })
      : w.closes_at ? t("wa.closed_at", { time: formatTime(w.closes_at) }) : t("wa.never");
    return w.open;
  }

  template() { return this.templates[Number(this.pick.value)]; }

  render() {
    const tpl = this.template();
    if (!tpl) { replace(this.fields, h("p", { class: "muted" }, t("wa.no_templates"))); this.preview.textContent = ""; return; }
    const inputs = Array.from({ length: tpl.variables }, (_, n) => h("input", { id: `${this.prefix}-template-var-${n + 1}`, required: true,
      maxlength: 1024, "aria-label": `{{${n + 1}}}`, placeholder: `{{${n + 1}}}`, oninput: () => this.showPreview() }));
    replace(this.fields, inputs.map((input, n) => h("label", { class: "inline" }, `{{${n + 1}}} `, input)));
    this.showPreview();
  }

  values() { return [...this.fields.querySelectorAll("input")].map((i) => i.value); }

  showPreview() {
    const values = this.values();
    this.preview.textContent = this.template().body.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n) => values[Number(n) - 1] || whole);
  }

  // What a request sends as ``template`` (null: no template chosen).
  value() {
    const tpl = this.template();
    return tpl ? { name: tpl.name, language: tpl.language, variables: this.values() } : null;
  }
}

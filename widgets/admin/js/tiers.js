// The customer tiers: each tier's condition and priority, checked by the hub as they are
// typed, saved as a new version (PUT /api/v1/tiers), after which the hub re-tiers every
// customer whose tier is not pinned. A document of its own, saved apart from the rules.
import { post, put } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { field, input, numberInput, showErrors, errorsOf, debounce } from "./ui.js";

// The tier rules as the hub reads them: no empty condition; the revenue currency and the
// rates that convert other currencies into it.
function cleanedTiers(items, currency, rates) {
  return {
    currency: String(currency || "").trim().toUpperCase(),
    rates: Object.fromEntries(rates.filter((r) => String(r.code || "").trim()).map((r) => [String(r.code).trim().toUpperCase(), r.rate])),
    tiers: items.map(({ name, when, priority }) => (when && String(when).trim() ? { name, when, priority } : { name, priority })),
  };
}

export class TierEditor {
  constructor(box, info, saved) {
    this.box = box;
    this.info = info;
    this.draft = structuredClone(info.items);
    this.currency = info.currency || "EUR";
    this.rates = Object.entries(info.rates || {}).map(([code, rate]) => ({ code, rate }));
    this.saved = saved;
    this.checkSoon = debounce(() => this.check(), 300);
  }

  draw() {
    const items = this.draft, retier = this.info.retier || {};
    this.status = h("span", { class: "status-line", id: "tiers-status", role: "status" });
    this.saveButton = h("button", { class: "primary", id: "tiers-save", disabled: true, onclick: () => this.save() }, t("tiers.save"));
    this.errors = h("div", { id: "tiers-errors" });
    const changed = () => { this.saveButton.disabled = true; this.status.textContent = t("rules.checking"); this.checkSoon(); };
    const again = (focusId) => { this.draw(); changed(); if (focusId) document.getElementById(focusId)?.focus(); };
    const move = (i, to) => { const [x] = items.splice(i, 1); items.splice(to, 0, x); again(`tier-${to}-name`); };
    replace(this.box,
      h("h2", { id: "h-tiers" }, t("tiers.title")),
      h("p", { class: "muted" }, t("tiers.hint")),
      retier.running ? h("p", { role: "status" }, t("tiers.retiering")) : retier.changed !== null && retier.changed !== undefined
        ? h("p", { class: "muted", role: "status" }, t("tiers.retiered", { n: retier.changed })) : null,
      retier.error ? h("p", { class: "field-error", role: "alert" }, retier.error) : null,
      items.map((tier, i) => h("fieldset", { class: "tier" }, h("legend", {}, t("tiers.tier_n", { n: i + 1 })),
        h("div", { class: "grid" },
          field(t("rules.name"), input(tier.name, (v) => { tier.name = v; changed(); }, { id: `tier-${i}-name` }), { path: `tiers[${i}].name` }),
          field(t("rules.priority"), numberInput(tier.priority, (v) => { tier.priority = v; changed(); }, { id: `tier-${i}-priority` }), { path: `tiers[${i}].priority` })),
        field(t("rules.when"), input(tier.when, (v) => { tier.when = v; changed(); }, {
          class: "expr", id: `tier-${i}-when`, spellcheck: "false",
          placeholder: i === items.length - 1 ? t("tiers.catch_all") : "key_account or revenue_12m >= 100000",
        }), { path: `tiers[${i}].when`, hint: t("tiers.when_hint") }),
        h("div", { class: "actions" },
          h("button", { type: "button", disabled: i === 0, onclick: () => move(i, i - 1) }, t("rules.up")),
          h("button", { type: "button", disabled: i === items.length - 1, onclick: () => move(i, i + 1) }, t("rules.down")),
          h("button", { type: "button", class: "link", onclick: () => { items.splice(i, 1); again("add-tier"); } }, t("tiers.delete"))))),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "add-tier", onclick: () => {
          items.splice(Math.max(0, items.length - 1), 0, { name: "", when: "", priority: 0 });
          again(`tier-${Math.max(0, items.length - 2)}-name`);
        } }, t("tiers.add"))),
      this.drawRates(changed, again),
      h("div", { class: "actions" }, this.saveButton, this.status),
      this.errors);
  }

  // The currency tier conditions compare revenue in, and a rate for each other currency.
  drawRates(changed, again) {
    const rates = this.rates;
    return h("fieldset", { class: "tier", id: "tier-rates" }, h("legend", {}, t("tiers.rates")),
      h("p", { class: "muted" }, t("tiers.rates_hint")),
      field(t("tiers.currency"), input(this.currency, (v) => { this.currency = v; changed(); }, { id: "tiers-currency", maxlength: 3 }), { path: "currency" }),
      rates.map((rate, i) => {
        // the hub names a bad rate by its code: the path follows the code as it is typed
        const pathOf = () => `rates.${String(rate.code || "").trim().toUpperCase()}`;
        const value = numberInput(rate.rate, (v) => { rate.rate = v; changed(); }, { id: `rate-${i}-value`, step: "any", min: "0" });
        return h("div", { class: "grid" },
          field(t("tiers.rate_code"), input(rate.code, (v) => { rate.code = v; value.dataset.path = pathOf(); changed(); }, { id: `rate-${i}-code`, maxlength: 3 })),
          field(t("tiers.rate_value", { base: this.currency }), value, { path: pathOf() }),
          h("div", { class: "actions" },
            h("button", { type: "button", class: "link", onclick: () => { rates.splice(i, 1); again("add-rate"); } }, t("tiers.rate_delete"))));
      }),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "add-rate", onclick: () => { rates.push({ code: "", rate: undefined }); again(`rate-${rates.length - 1}-code`); } }, t("tiers.rate_add"))));
  }

  doc() { return cleanedTiers(this.draft, this.currency, this.rates); }

  async check() {
    const checked = JSON.stringify(this.doc());
    let res;
    try { res = await post("/api/v1/tiers/validate", this.doc()); }
    catch (err) { showErrors(this.box, errorsOf(err), this.errors); return; }
    if (checked !== JSON.stringify(this.doc())) return;
    showErrors(this.box, res.errors, this.errors);
    this.saveButton.disabled = !res.valid;
    this.status.className = `status-line ${res.valid ? "good" : "bad"}`;
    this.status.textContent = res.valid ? t("rules.valid_changed") : t("rules.invalid", { n: res.errors.length });
  }

  async save() {
    this.saveButton.disabled = true;
    try {
      await put("/api/v1/tiers", this.doc());
      toast(t("tiers.saved"));
      await this.saved();
    } catch (err) { showErrors(this.box, errorsOf(err), this.errors); }
  }
}

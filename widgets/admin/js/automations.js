// Automations, the satisfaction survey settings and the contact policy: each a YAML document, checked by the
// hub as it is typed (every error with its path, and the diff against the live version),
// saved as a new version, with the version history (each version's diff, a rollback).
// Automations also have the dry run: what the draft would have done in the last days.
import { get, post, postYaml, putYaml, ApiError } from "/console/js/api.js";
import { h, replace, toast } from "/console/js/dom.js";
import { t } from "./i18n.js";
import { debounce, when } from "./ui.js";

export async function render(root) {
  const automations = h("section", { id: "automations", "aria-labelledby": "h-automations" });
  const csat = h("section", { id: "csat", "aria-labelledby": "h-csat" });
  const policy = h("section", { id: "policy", "aria-labelledby": "h-policy" });
  replace(root, h("h1", {}, t("auto.title")), h("p", { class: "muted" }, t("auto.intro")), automations, csat, policy);
  await Promise.all([
    new YamlDocument(automations, { base: "/api/v1/automations", name: "automations", dryRun: true }).load(),
    new YamlDocument(csat, { base: "/api/v1/csat/settings", name: "csat" }).load(),
    new YamlDocument(policy, { base: "/api/v1/contact-policy", name: "policy" }).load(),
  ]);
}

class YamlDocument {
  constructor(box, { base, name, dryRun = false }) {
    Object.assign(this, { box, base, name, dryRun });
    this.checkSoon = debounce(() => this.check(), 400);
  }

  async load() {
    const [live, versions] = await Promise.all([get(this.base), get(`${this.base}/versions`)]);
    this.live = live;
    this.versions = versions.items;
    this.draw();
  }

  draw() {
    const n = this.name;
    this.text = h("textarea", { id: `${n}-text`, class: "yaml", rows: 22, spellcheck: "false",
      "aria-describedby": `${n}-status ${n}-errors`, oninput: () => this.changed() });
    this.text.value = this.live.text || "";
    this.status = h("span", { class: "status-line", id: `${n}-status`, role: "status" }, t("auto.live", { v: this.live.version }));
    this.errors = h("ul", { id: `${n}-errors`, class: "errors" });
    this.diff = h("pre", { id: `${n}-diff`, class: "diff", hidden: true });
    this.saveButton = h("button", { class: "primary", id: `${n}-save`, disabled: true, onclick: () => this.save() }, t("auto.save"));
    this.results = h("div", { id: `${n}-dry-run`, "aria-live": "polite" });
    const days = h("select", { id: `${n}-days`, "aria-label": t("auto.days") },
      [1, 7, 14, 31].map((d) => h("option", { value: d, selected: d === 7 }, t("auto.days_n", { n: d }))));
    replace(this.box,
      h("h2", { id: `h-${n}` }, t(`auto.${n}_title`)),
      h("p", { class: "muted" }, t(`auto.${n}_hint`)),
      h("label", { for: this.text.id, class: "field" }, t("auto.document"), this.text),
      this.errors,
      h("div", { class: "actions" }, this.saveButton,
        this.dryRun ? h("button", { type: "button", id: `${n}-try`, onclick: () => this.tryDraft(Number(days.value)) }, t("auto.dry_run")) : null,
        this.dryRun ? days : null, this.status),
      this.diff, this.results,
      h("h3", {}, t("rules.versions")),
      h("table", { class: "list", id: `${n}-versions` },
        h("thead", {}, h("tr", {}, [t("rules.version"), t("rules.author"), t("rules.when_saved"), t("auto.comment"), ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, this.versions.map((v) => h("tr", {},
          h("td", {}, String(v.version), v.live ? h("span", { class: "muted" }, ` (${t("rules.live")})`) : null),
          h("td", {}, v.author), h("td", {}, when(v.created_at)), h("td", {}, v.comment || ""),
          h("td", {},
            h("button", { type: "button", class: "link", onclick: () => this.showVersion(v.version) }, t("auto.show")),
            v.live ? null : h("button", { type: "button", class: "link", onclick: () => this.rollback(v.version) }, t("auto.rollback"))))))));
  }

  changed() {
    this.saveButton.disabled = true;
    this.status.textContent = t("rules.checking");
    this.checkSoon();
  }

  async check() {
    let res;
    try { res = await postYaml(`${this.base}/validate`, this.text.value); } catch (err) { return this.failed(err); }
    this.showErrors(res.errors || []);
    this.saveButton.disabled = !res.valid;
    this.status.textContent = res.valid ? t("auto.valid") : t("auto.invalid", { n: res.errors.length });
    this.showDiff(res.diff);
  }

  showErrors(errors) {
    replace(this.errors, errors.map((e) => h("li", { class: "field-error" },
      e.field ? h("code", {}, e.field) : null, e.field ? " " : null,
      e.position != null ? `(${t("auto.at", { n: e.position })}) ` : null, e.message)));
  }

  showDiff(diff) {
    this.diff.textContent = diff || "";
    this.diff.hidden = !diff;
  }

  failed(err) {
    const problem = err instanceof ApiError ? err.problem : {};
    if (problem.errors) this.showErrors(problem.errors);
    this.status.textContent = problem.detail || String(err.message || err);
  }

  async save() {
    try {
      const { version } = await putYaml(this.base, this.text.value);
      toast(t("auto.saved", { v: version }));
      await this.load();
    } catch (err) { this.failed(err); }
  }

  async showVersion(version) {
    const found = await get(`${this.base}/versions/${version}`);
    this.showDiff(found.diff || t("auto.no_changes"));
  }

  async rollback(version) {
    try {
      const { version: now } = await post(`${this.base}/rollback`, { version });
      toast(t("auto.saved", { v: now }));
      await this.load();
    } catch (err) { this.failed(err); }
  }

  async tryDraft(days) {
    replace(this.results, h("p", { role: "status" }, t("auto.trying")));
    let found;
    try { found = await postYaml(`${this.base}/dry-run?days=${days}`, this.text.value); } catch (err) {
      replace(this.results);
      return this.failed(err);
    }
    replace(this.results,
      h("p", { role: "status" }, t(found.complete ? "auto.tried" : "auto.tried_partly", { n: found.items.length, events: found.events })),
      h("p", { class: "muted" }, found.limits),
      found.items.length ? h("table", { class: "list", id: `${this.name}-would` },
        h("thead", {}, h("tr", {}, [t("auto.when"), t("auto.automation"), t("auto.conversation"), t("auto.customer"), t("auto.actions")].map((c) => h("th", {}, c)))),
        h("tbody", {}, found.items.map((i) => h("tr", {},
          h("td", {}, when(i.at)), h("td", {}, i.automation),
          h("td", {}, i.conversation_id ? h("a", { href: `/console/#/c/${i.conversation_id}` }, i.conversation_id.slice(0, 8)) : "–"),
          h("td", {}, i.customer?.name || "–"),
          h("td", {}, i.actions.map((a) => `${a.action}${a.value === true ? "" : `: ${typeof a.value === "object" ? a.value.to : a.value}`}`).join(", ")))))) : null);
  }
}

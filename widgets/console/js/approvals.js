// A key account's approvals: whom its manager lets contact the account despite the
// contact policy (a department, or any; a purpose, or any; for some days). The manager
// (or a supervisor) grants and takes back here; everyone else sees what holds.
import { get, post, del } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, formatTime } from "./i18n.js";
import { purposeName } from "./events.js";

export function approvalsSection(customer) {
  const body = h("div", { id: "contact-approvals" }, h("span", { class: "muted" }, "…"));
  const load = async () => {
    let found;
    try { found = await get(`/api/v1/customers/${customer.id}/contact-approvals`); }
    catch (err) { replace(body, h("p", { role: "alert" }, err.message)); return; }
    const held = found.items.filter((a) => a.in_force);
    replace(body,
      held.length ? h("ul", { class: "plain approvals" }, held.map((a) => h("li", { class: "approval", dataset: { id: a.id } },
        t("appr.item", { department: a.department || t("appr.any_department"), purpose: a.purpose ? purposeName(a.purpose) : t("appr.any_purpose"),
          until: formatTime(a.until) }),
        a.note ? h("div", { class: "muted" }, a.note) : null,
        found.may_grant ? [" ", h("button", { type: "button", class: "link revoke-approval", "aria-label": t("appr.revoke"),
          onclick: () => act(() => del(`/api/v1/customers/${customer.id}/contact-approvals/${a.id}`)) }, t("appr.revoke"))] : null)))
        : h("p", { class: "muted" }, t("appr.none")),
      found.may_grant ? form() : null);
  };
  const act = async (call) => {
    try { await call(); await load(); } catch (err) { toast(t("error.generic", { detail: err.message }), "error"); }
  };
  const form = () => {
    const department = h("input", { name: "department", id: "appr-department", maxlength: 100, placeholder: t("appr.any_department"), size: 12 });
    const purpose = h("select", { name: "purpose", id: "appr-purpose" }, h("option", { value: "" }, t("appr.any_purpose")),
      ["service", "marketing"].map((p) => h("option", { value: p }, purposeName(p))));
    const days = h("input", { name: "days", id: "appr-days", type: "number", min: 1, max: 365, value: 30, required: true, size: 4 });
    const note = h("input", { name: "note", id: "appr-note", maxlength: 1000, placeholder: t("appr.note") });
    return h("form", { class: "inline-form", id: "approval-form", onsubmit: (e) => {
      e.preventDefault();
      act(() => post(`/api/v1/customers/${customer.id}/contact-approvals`, {
        department: department.value.trim() || null, purpose: purpose.value || null, days: Number(days.value), note: note.value.trim() || null,
      }));
    } },
    h("label", {}, t("appr.department"), " ", department), " ", h("label", {}, t("appr.purpose"), " ", purpose), " ",
    h("label", {}, t("appr.days"), " ", days), " ", note, " ", h("button", { type: "submit", id: "appr-grant" }, t("appr.grant")));
  };
  load();
  return [h("h3", {}, t("appr.title")), h("p", { class: "hint" }, t("appr.hint")), body];
}

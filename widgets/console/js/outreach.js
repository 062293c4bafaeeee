// Starting a conversation from the customer panel: the channel (of those the customer has
// an address on), the address, the purpose and department, an email's mailbox and
// subject, a callback's queue. The contact policy is asked as the choices change, so a
// block shows before anything is written: each rule in words, with the conversation it
// conflicts with. A supervisor may send anyway, with a reason (the hub audits it).
import { ApiError, get, post } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t } from "./i18n.js";
import { isSupervisor } from "./state.js";
import { channelName, purposeName } from "./events.js";
import { TemplatePicker } from "./templates.js";

// the identity kind a channel is addressed to (as the hub's outbox knows it)
const KIND = { email: "email", sms: "phone", whatsapp: "phone", voice: "phone", fax: "fax", api: "external" };

export async function startDialog(customer, { onStarted }) {
  let options;
  try { options = await get("/api/v1/outreach/options"); } catch (err) {
    toast(t("error.generic", { detail: err.message }), "error");
    return;
  }
  const reachable = options.channels.filter((c) => customer.identities.some((i) => i.kind === KIND[c]));
  if (!reachable.length) { toast(t("out.no_channel"), "error"); return; }

  const field = (key, control, extra = {}) => h("label", { class: "out-field", dataset: { field: key }, ...extra }, t(`out.${key}`), control);
  const channel = h("select", { name: "channel", id: "out-channel" }, reachable.map((c) => h("option", { value: c }, c === "voice" ? t("out.callback") : channelName(c))));
  const to = h("select", { name: "to", id: "out-to" });
  const purpose = h("select", { name: "purpose", id: "out-purpose" }, options.purposes.map((p) => h("option", { value: p }, purposeName(p))));
  const department = options.departments.length && !isSupervisor()
    ? h("select", { name: "department", id: "out-department" }, options.departments.map((d) => h("option", { value: d }, d)))
    : h("input", { name: "department", id: "out-department", value: options.departments[0] || "service", maxlength: 100, required: true });
  const mailbox = h("select", { name: "mailbox", id: "out-mailbox" }, h("option", { value: "" }, t("out.default_mailbox")),
    options.mailboxes.map((m) => h("option", { value: m.name }, `${m.name} <${m.address}>`)));
  const subject = h("input", { name: "subject", id: "out-subject", maxlength: 500 });
  const queue = h("input", { name: "queue", id: "out-queue", maxlength: 60, placeholder: t("out.queue_mine") });
  const text = h("textarea", { name: "text", id: "out-text", rows: 5, maxlength: 20000 });
  const override = h("input", { name: "override", id: "out-override", minlength: 3, maxlength: 1000 });
  const overrideField = field("override", override, { hidden: true });
  const blocks = h("div", { class: "policy-blocks", id: "out-blocks", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", id: "out-send" }, t("out.send"));
  const emailOnly = [field("mailbox", mailbox), field("subject", subject)];
  const whatsapp = new TemplatePicker("out"); // outside the 24-hour window: a template instead of text
  let templated = false;
  const textField = field("text", text);
  const callbackOnly = [field("queue", queue)];

  const form = h("form", { class: "dialog-form start-form" }, h("h2", {}, t("out.title", { name: customer.name || "" })),
    field("channel", channel), field("to", to), field("purpose", purpose), field("department", department),
    emailOnly, callbackOnly, whatsapp.window, whatsapp.box, textField, blocks, overrideField,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("common.cancel")), submit));
  const dlg = h("dialog", { "aria-label": t("out.title", { name: customer.name || "" }), class: "start-dialog" }, form);

  let blocked = [];
  const showBlocks = (found) => {
    blocked = found;
    replace(blocks, found.length ? [h("strong", {}, t("out.blocked")), h("ul", { class: "plain" }, found.map((b) => h("li", { class: "policy-block" },
      b.message, b.conversation_id ? [" ", h("a", { href: `#/c/${b.conversation_id}`, onclick: () => dlg.close() }, t("out.open_conflict"))] : null)))] : []);
    const may = found.length && isSupervisor();
    overrideField.hidden = !may;
    override.required = Boolean(may);
    submit.disabled = Boolean(found.length && !isSupervisor());
    submit.textContent = t(may ? "out.send_anyway" : "out.send");
  };
  const check = async () => {
    try {
      const said = await post("/api/v1/contact-policy/check", {
        customer_id: customer.id, channel: channel.value, purpose: purpose.value, department: department.value.trim() || null,
      });
      showBlocks(said.blocks);
    } catch (err) { replace(blocks, err.message); }
  };
  const channelChanged = () => {
    const kind = KIND[channel.value];
    replace(to, customer.identities.filter((i) => i.kind === kind).map((i) => h("option", { value: i.value }, i.value)));
    for (const el of emailOnly) el.hidden = channel.value !== "email";
    for (const el of callbackOnly) el.hidden = channel.value !== "voice";
    subject.required = channel.value === "email";
    showTemplates(false);
    whatsapp.window.hidden = channel.value !== "whatsapp";
    if (channel.value === "whatsapp") {
      whatsapp.load(customer.id).then((open) => { if (channel.value === "whatsapp") showTemplates(!open); },
        (err) => replace(blocks, err.message));
    }
    check();
  };
  const showTemplates = (on) => {
    templated = on;
    whatsapp.box.hidden = !on;
    textField.hidden = on;
    text.required = !on && channel.value !== "voice";
  };
  channel.addEventListener("change", channelChanged);
  purpose.addEventListener("change", check);
  department.addEventListener("change", check);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      customer_id: customer.id, channel: channel.value, to: to.value || null, purpose: purpose.value,
      department: department.value.trim() || null, text: templated ? "" : text.value,
    };
    if (templated) body.template = whatsapp.value();
    if (channel.value === "email") Object.assign(body, { subject: subject.value, mailbox: mailbox.value || null });
    if (channel.value === "voice" && queue.value.trim()) body.queue = queue.value.trim();
    if (blocked.length && isSupervisor()) body.override = override.value.trim();
    submit.disabled = true;
    try {
      const started = await post("/api/v1/conversations", body);
      dlg.close();
      toast(t("out.started"));
      onStarted(started);
    } catch (err) {
      if (err instanceof ApiError && err.problem.type?.endsWith("/contact-policy")) showBlocks(err.problem.errors || []);
      else toast(t("error.generic", { detail: err.message }), "error");
    } finally {
      submit.disabled = Boolean(blocked.length && !isSupervisor());
    }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  channelChanged();
}

// What the timeline says about an event: a sentence in the agent's language, never the
// hub's raw action name (``identity.added``) or state (``open``).
import { t, formatTime } from "./i18n.js";
import { agentName } from "./state.js";

const KNOWN = (key) => t(key) !== key;

export function channelName(channel) {
  return KNOWN(`channel.${channel}`) ? t(`channel.${channel}`) : channel || "";
}

export function statusName(status) {
  return KNOWN(`status.${status}`) ? t(`status.${status}`) : status || "";
}

export function identityKind(kind) {
  return KNOWN(`identity.${kind}`) ? t(`identity.${kind}`) : kind || "";
}

export function purposeName(purpose) {
  return KNOWN(`purpose.${purpose}`) ? t(`purpose.${purpose}`) : purpose || "";
}

export function eventLabel(action, data = {}) {
  const vars = {
    agent: agentName(data.agent_id), queue: data.queue || "", by: data.by || "", action,
    kind: identityKind(data.kind), channel: channelName(data.channel), purpose: purposeName(data.purpose),
    from: data.from || "", to: data.to || "", name: data.name || "", score: data.score ?? "", comment: data.comment || "",
    department: data.department || "", rules: (data.rules || []).join(", "),
    product: data.product || "", theme: data.theme ? `· ${data.theme}` : "",
    changes: [...(data.added || []).map((x) => `+${x}`), ...(data.removed || []).map((x) => `−${x}`)].join(", "),
  };
  if (action === "consent.changed") return t(data.granted ? "event.consent.granted" : "event.consent.withdrawn", vars);
  if (action === "tier.changed" && data.to) return t("event.tier.changed_to", vars);
  if (action === "contact_approval.granted") {
    return t("event.contact_approval.granted", { agent: vars.agent, department: data.department || t("appr.any_department"),
      purpose: data.purpose ? vars.purpose : t("appr.any_purpose"), until: formatTime(data.until) });
  }
  if (action === "health.changed") {
    return t("event.health.changed", { from: t(`health.level.${data.from}`), to: t(`health.level.${data.to}`), score: data.score ?? "" });
  }
  if (action === "automation.ran") {
    const done = (data.actions || []).map((a) => (a.result === "done" ? a.action : `${a.action} (${t(`auto.${a.result}`)})`)).join(", ");
    return t("event.automation.ran", { name: data.name || "", version: data.version ?? "", done });
  }
  if (action === "automation.stopped") {
    return t("event.automation.stopped", { name: data.name || "", why: t(`auto.why.${data.reason === "limit" ? "limit" : "loop"}`) });
  }
  if (action === "sla.breached" && data.kind) return `${t("event.sla.breached")} (${t(`breach.${data.kind}`)})`;
  const key = `event.${action}`;
  return KNOWN(key) ? t(key, vars) : t("event.other", { action: action.replace(/[._]/g, " ") });
}

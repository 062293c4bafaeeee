// Every string of the console, in English and German. The browser's language picks one;
// the switch in the header overrides it (kept in localStorage).
const STRINGS = {
  en: {
    "app.title": "ContactHub console",
    "login.title": "Sign in", "login.email": "Email", "login.password": "Password",
    "login.totp": "Authentication code", "login.submit": "Sign in", "login.totp_needed": "Enter the code from your authenticator app.",
    "login.totp_setup": "Two-factor authentication is required. Set it up: add this key to your authenticator app, then enter a code.",
    "login.totp_confirm": "Confirm",
    "nav.inbox": "Inbox", "nav.supervisor": "Supervisor", "nav.logout": "Sign out", "nav.shortcuts": "Keyboard shortcuts",
    "nav.language": "Language", "nav.skip": "Skip to content",
    "presence.label": "Presence", "presence.available": "Available", "presence.away": "Away", "presence.offline": "Offline",
    "live.connected": "Live", "live.offline": "Offline – reconnecting…", "live.resync": "Reloaded after a long gap",
    "priority.high": "High priority", "priority.low": "Low priority",
    "inbox.offers": "Offers", "inbox.mine": "My conversations", "inbox.queues": "Team queues", "inbox.snoozed": "Snoozed",
    "inbox.empty": "Nothing here.", "inbox.accept": "Accept", "inbox.reject": "Reject",
    "inbox.expires": "{s} s left", "inbox.waiting": "waiting {d}", "inbox.due": "due {t}", "inbox.overdue": "overdue",
    "inbox.pick": "Pick a conversation from the inbox.",
    "conv.viewing": "{names} viewing", "conv.typing": "{names} typing…", "conv.assigned_to": "Assigned to {name}",
    "conv.offered_to": "Offered to {name}", "conv.waiting": "Waiting in {queue}", "conv.closed": "Closed",
    "conv.close": "Close", "conv.reopen": "Reopen", "conv.snooze": "Snooze", "conv.transfer": "Transfer",
    "conv.accept": "Accept", "conv.timeline": "Timeline of {name}", "conv.this": "this conversation",
    "conv.older": "Load older", "conv.attachments": "Attachments", "conv.html": "Formatted message",
    "fax.pages": "Fax pages ({n})", "fax.page": "Page {n} of {of}", "fax.open_page": "Open page {n} of {of}", "fax.documents": "Fax documents",
    "fax.viewer": "Fax pages", "fax.prev": "Previous page", "fax.next": "Next page", "fax.zoom_in": "Zoom in", "fax.zoom_out": "Zoom out",
    "fax.fit": "Fit to width", "fax.close": "Close", "fax.preparing": "The pages and text of this fax are being prepared.",
    "fax.not_rendered": "Could not render this fax; the original is attached", "fax.ocr_off": "OCR is off: no text was read from this fax.",
    "fax.ocr_failed": "The text of this fax could not be read (OCR failed).", "fax.ocr_empty": "No text was found on this fax.",
    "fax.pages_shown": "Showing the first {shown} of {pages} pages; the document has them all.",
    "conv.show_quoted": "Show quoted text", "conv.hide_quoted": "Hide quoted text",
    "reply.label": "Reply", "reply.note": "Internal note", "reply.send": "Send", "reply.add_note": "Add note",
    "reply.channel": "Send on", "reply.placeholder": "Write a reply – type / for canned responses",
    "reply.note_placeholder": "Write an internal note – type @ to mention a colleague",
    "reply.not_yours": "This conversation is assigned to {name}. Reply anyway?",
    "reply.sent": "Reply queued", "reply.note_added": "Note added", "reply.canned": "Canned responses", "reply.attach": "Attach files", "reply.files": "Files to send", "reply.remove": "Remove",
    "delivery.queued": "queued", "delivery.sending": "sending", "delivery.sent": "sent", "delivery.delivered": "delivered",
    "delivery.undelivered": "undelivered", "delivery.failed": "failed", "delivery.retry": "Retry",
    "transfer.title": "Transfer conversation", "transfer.queue": "Queue", "transfer.agent": "Agent (optional)",
    "transfer.note": "Note for the next agent", "transfer.submit": "Transfer", "transfer.any": "anyone",
    "snooze.title": "Snooze until", "snooze.submit": "Snooze", "snooze.1h": "1 hour", "snooze.tomorrow": "Tomorrow 9:00",
    "common.cancel": "Cancel", "common.save": "Save", "common.edit": "Edit", "common.none": "–", "common.yes": "yes", "common.no": "no",
    "chat.page": "Wrote from: {page}", "chat.offline": "Left while nobody was available; reach them at {contact}",
    "chat.claimed": "Says they are {value}: another record holds it – merge only once verified",
    "side.customer": "Customer", "side.name": "Name", "side.organisation": "Organisation", "side.language": "Language",
    "side.identities": "Identities", "side.tier": "Tier", "side.tier_reason": "Why", "side.kam": "Key account manager",
    "side.contracts": "Contracts", "side.payment_terms": "Payment terms", "side.revenue": "Revenue",
    "side.consent": "Consent", "side.recent": "Recent conversations", "side.granted": "granted", "side.withdrawn": "withdrawn",
    "side.key_account": "Key account",
    "sup.queues": "Queues", "sup.queue": "Queue", "sup.tier": "Tier", "sup.waiting": "Waiting", "sup.offered": "Offered",
    "sup.oldest": "Oldest wait", "sup.breached": "Breached", "sup.agents": "Agents", "sup.agent": "Agent",
    "sup.presence": "Presence", "sup.load": "Load", "sup.breaches": "SLA breaches", "sup.volume": "Volume by channel",
    "sup.frt": "First response time by tier", "sup.hours": "last {n} hours", "sup.no_breaches": "No breaches.",
    "sup.chart_empty": "No data yet.",
    "event.conversation.opened": "Conversation opened", "event.conversation.assigned": "Assigned to {agent}",
    "event.conversation.offered": "Offered to {agent}", "event.conversation.closed": "Closed",
    "event.conversation.reopened": "Reopened", "event.conversation.transferred": "Transferred to {queue}",
    "event.conversation.note": "Note by {by}", "event.conversation.called_back": "Called back by {by}",
    "event.conversation.rejected": "Offer turned down", "event.conversation.snoozed": "Snoozed",
    "event.message.replied": "Reply sent", "event.sla.breached": "SLA breached", "event.other": "{action}",
    "event.customer.created": "Customer record created", "event.customer.updated": "Customer record changed",
    "event.tier.changed": "Tier changed", "event.customer.merged": "Records merged", "event.consent.changed": "Consent changed",
    "event.message.retried": "Reply sent again", "event.conversation.offer_lapsed": "Offer lapsed",
    "notice.offer": "New offer: {name}", "notice.message": "New message from {name}",
    "notice.mention": "{by} mentioned you", "notice.breach": "SLA breached", "notice.warning": "SLA due soon: {name}", "notice.signed_out": "Your session ended.",
    "help.title": "Keyboard shortcuts", "help.close": "Close",
    "key.help": "Show this list", "key.inbox": "Go to the inbox", "key.supervisor": "Go to the supervisor view",
    "key.next": "Next conversation", "key.prev": "Previous conversation", "key.open": "Open the selected conversation",
    "key.accept": "Accept the offer", "key.reply": "Write a reply", "key.note": "Write a note", "key.close": "Close the conversation",
    "key.transfer": "Transfer", "key.snooze": "Snooze", "key.presence": "Switch presence available/away", "key.back": "Back / close dialog",
    "error.generic": "Something went wrong: {detail}", "error.network": "The hub cannot be reached.",
    "channel.email": "Email", "channel.sms": "SMS", "channel.voice": "Phone", "channel.fax": "Fax", "channel.chat": "Chat", "channel.api": "API",
  },
  de: {
    "app.title": "ContactHub-Konsole",
    "login.title": "Anmelden", "login.email": "E-Mail", "login.password": "Passwort",
    "login.totp": "Bestätigungscode", "login.submit": "Anmelden", "login.totp_needed": "Geben Sie den Code aus Ihrer Authenticator-App ein.",
    "login.totp_setup": "Zwei-Faktor-Anmeldung ist Pflicht. Richten Sie sie ein: Schlüssel in die Authenticator-App eintragen, dann einen Code eingeben.",
    "login.totp_confirm": "Bestätigen",
    "nav.inbox": "Posteingang", "nav.supervisor": "Supervisor", "nav.logout": "Abmelden", "nav.shortcuts": "Tastenkürzel",
    "nav.language": "Sprache", "nav.skip": "Zum Inhalt springen",
    "presence.label": "Status", "presence.available": "Verfügbar", "presence.away": "Abwesend", "presence.offline": "Offline",
    "live.connected": "Live", "live.offline": "Offline – verbinde neu…", "live.resync": "Nach längerer Lücke neu geladen",
    "priority.high": "Hohe Priorität", "priority.low": "Niedrige Priorität",
    "inbox.offers": "Angebote", "inbox.mine": "Meine Gespräche", "inbox.queues": "Team-Warteschlangen", "inbox.snoozed": "Zurückgestellt",
    "inbox.empty": "Nichts da.", "inbox.accept": "Annehmen", "inbox.reject": "Ablehnen",
    "inbox.expires": "noch {s} s", "inbox.waiting": "wartet {d}", "inbox.due": "fällig {t}", "inbox.overdue": "überfällig",
    "inbox.pick": "Wählen Sie ein Gespräch im Posteingang.",
    "conv.viewing": "{names} sieht gerade zu", "conv.typing": "{names} schreibt…", "conv.assigned_to": "Zugewiesen an {name}",
    "conv.offered_to": "Angeboten an {name}", "conv.waiting": "Wartet in {queue}", "conv.closed": "Geschlossen",
    "conv.close": "Schließen", "conv.reopen": "Wieder öffnen", "conv.snooze": "Zurückstellen", "conv.transfer": "Weiterleiten",
    "conv.accept": "Annehmen", "conv.timeline": "Verlauf von {name}", "conv.this": "dieses Gespräch",
    "conv.older": "Ältere laden", "conv.attachments": "Anhänge", "conv.html": "Formatierte Nachricht",
    "fax.pages": "Faxseiten ({n})", "fax.page": "Seite {n} von {of}", "fax.open_page": "Seite {n} von {of} öffnen", "fax.documents": "Faxdokumente",
    "fax.viewer": "Faxseiten", "fax.prev": "Vorige Seite", "fax.next": "Nächste Seite", "fax.zoom_in": "Vergrößern", "fax.zoom_out": "Verkleinern",
    "fax.fit": "An Breite anpassen", "fax.close": "Schließen", "fax.preparing": "Seiten und Text dieses Faxes werden vorbereitet.",
    "fax.not_rendered": "Dieses Fax konnte nicht dargestellt werden; das Original ist angehängt", "fax.ocr_off": "Texterkennung ist aus: kein Text aus diesem Fax gelesen.",
    "fax.ocr_failed": "Der Text dieses Faxes konnte nicht gelesen werden (Texterkennung fehlgeschlagen).", "fax.ocr_empty": "Auf diesem Fax wurde kein Text gefunden.",
    "fax.pages_shown": "Die ersten {shown} von {pages} Seiten werden gezeigt; das Dokument enthält alle.",
    "conv.show_quoted": "Zitierten Text anzeigen", "conv.hide_quoted": "Zitierten Text ausblenden",
    "reply.label": "Antwort", "reply.note": "Interne Notiz", "reply.send": "Senden", "reply.add_note": "Notiz speichern",
    "reply.channel": "Senden über", "reply.placeholder": "Antwort schreiben – / für Textbausteine",
    "reply.note_placeholder": "Interne Notiz schreiben – @ erwähnt Kolleg:innen",
    "reply.not_yours": "Dieses Gespräch ist {name} zugewiesen. Trotzdem antworten?",
    "reply.sent": "Antwort eingereiht", "reply.note_added": "Notiz gespeichert", "reply.canned": "Textbausteine", "reply.attach": "Dateien anhängen", "reply.files": "Zu sendende Dateien", "reply.remove": "Entfernen",
    "delivery.queued": "eingereiht", "delivery.sending": "wird gesendet", "delivery.sent": "gesendet", "delivery.delivered": "zugestellt",
    "delivery.undelivered": "nicht zugestellt", "delivery.failed": "fehlgeschlagen", "delivery.retry": "Erneut senden",
    "transfer.title": "Gespräch weiterleiten", "transfer.queue": "Warteschlange", "transfer.agent": "Agent:in (optional)",
    "transfer.note": "Notiz für die Übernahme", "transfer.submit": "Weiterleiten", "transfer.any": "beliebig",
    "snooze.title": "Zurückstellen bis", "snooze.submit": "Zurückstellen", "snooze.1h": "1 Stunde", "snooze.tomorrow": "Morgen 9:00",
    "common.cancel": "Abbrechen", "common.save": "Speichern", "common.edit": "Bearbeiten", "common.none": "–", "common.yes": "ja", "common.no": "nein",
    "chat.page": "Geschrieben auf: {page}", "chat.offline": "Hinterlassen, als niemand erreichbar war; erreichbar unter {contact}",
    "chat.claimed": "Gibt an, {value} zu sein: das gehört zu einem anderen Kunden – erst nach Prüfung zusammenführen",
    "side.customer": "Kunde", "side.name": "Name", "side.organisation": "Organisation", "side.language": "Sprache",
    "side.identities": "Identitäten", "side.tier": "Stufe", "side.tier_reason": "Grund", "side.kam": "Key-Account-Manager:in",
    "side.contracts": "Verträge", "side.payment_terms": "Zahlungsbedingungen", "side.revenue": "Umsatz",
    "side.consent": "Einwilligungen", "side.recent": "Letzte Gespräche", "side.granted": "erteilt", "side.withdrawn": "widerrufen",
    "side.key_account": "Key Account",
    "sup.queues": "Warteschlangen", "sup.queue": "Warteschlange", "sup.tier": "Stufe", "sup.waiting": "Wartend", "sup.offered": "Angeboten",
    "sup.oldest": "Längste Wartezeit", "sup.breached": "Verletzt", "sup.agents": "Agent:innen", "sup.agent": "Agent:in",
    "sup.presence": "Status", "sup.load": "Auslastung", "sup.breaches": "SLA-Verletzungen", "sup.volume": "Aufkommen nach Kanal",
    "sup.frt": "Erste Antwortzeit nach Stufe", "sup.hours": "letzte {n} Stunden", "sup.no_breaches": "Keine Verletzungen.",
    "sup.chart_empty": "Noch keine Daten.",
    "event.conversation.opened": "Gespräch eröffnet", "event.conversation.assigned": "Zugewiesen an {agent}",
    "event.conversation.offered": "Angeboten an {agent}", "event.conversation.closed": "Geschlossen",
    "event.conversation.reopened": "Wieder geöffnet", "event.conversation.transferred": "Weitergeleitet an {queue}",
    "event.conversation.note": "Notiz von {by}", "event.conversation.called_back": "Rückruf durch {by}",
    "event.conversation.rejected": "Angebot abgelehnt", "event.conversation.snoozed": "Zurückgestellt",
    "event.message.replied": "Antwort gesendet", "event.sla.breached": "SLA verletzt", "event.other": "{action}",
    "event.customer.created": "Kundendatensatz angelegt", "event.customer.updated": "Kundendatensatz geändert",
    "event.tier.changed": "Stufe geändert", "event.customer.merged": "Datensätze zusammengeführt", "event.consent.changed": "Einwilligung geändert",
    "event.message.retried": "Antwort erneut gesendet", "event.conversation.offer_lapsed": "Angebot verfallen",
    "notice.offer": "Neues Angebot: {name}", "notice.message": "Neue Nachricht von {name}",
    "notice.mention": "{by} hat Sie erwähnt", "notice.breach": "SLA verletzt", "notice.warning": "SLA bald fällig: {name}", "notice.signed_out": "Ihre Sitzung ist beendet.",
    "help.title": "Tastenkürzel", "help.close": "Schließen",
    "key.help": "Diese Liste zeigen", "key.inbox": "Zum Posteingang", "key.supervisor": "Zur Supervisor-Ansicht",
    "key.next": "Nächstes Gespräch", "key.prev": "Vorheriges Gespräch", "key.open": "Gewähltes Gespräch öffnen",
    "key.accept": "Angebot annehmen", "key.reply": "Antwort schreiben", "key.note": "Notiz schreiben", "key.close": "Gespräch schließen",
    "key.transfer": "Weiterleiten", "key.snooze": "Zurückstellen", "key.presence": "Status verfügbar/abwesend wechseln", "key.back": "Zurück / Dialog schließen",
    "error.generic": "Etwas ist schiefgelaufen: {detail}", "error.network": "Der Hub ist nicht erreichbar.",
    "channel.email": "E-Mail", "channel.sms": "SMS", "channel.voice": "Telefon", "channel.fax": "Fax", "channel.chat": "Chat", "channel.api": "API",
  },
};

export const LANGUAGES = Object.keys(STRINGS);

function pick() {
  const saved = localStorage.getItem("contacthub.lang");
  if (saved && STRINGS[saved]) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (STRINGS[base]) return base;
  }
  return "en";
}

let lang = pick();

export function language() { return lang; }

export function setLanguage(next) {
  if (!STRINGS[next]) return;
  lang = next;
  localStorage.setItem("contacthub.lang", next);
  document.documentElement.lang = next;
}

export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function formatTime(iso) {
  if (!iso) return t("common.none");
  return new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }).format(new Date(iso));
}

export function formatClock(iso) {
  if (!iso) return t("common.none");
  return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return new Intl.NumberFormat(lang, { style: "unit", unit: "second", unitDisplay: "narrow" }).format(s);
  if (s < 3600) return new Intl.NumberFormat(lang, { style: "unit", unit: "minute", unitDisplay: "narrow" }).format(Math.floor(s / 60));
  return new Intl.NumberFormat(lang, { style: "unit", unit: "hour", unitDisplay: "narrow", maximumFractionDigits: 1 }).format(s / 3600);
}

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(lang, options).format(value);
}

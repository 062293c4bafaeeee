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
    "chat.claimed": "Says they are {value} (not verified)", "chat.confirm_claim": "Confirm: add to the customer",
    "chat.claim_added": "{value} is one of the customer's identities",
    "chat.claimed_held": "Says they are {value}: another record holds it – merge only once verified",
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
    "event.message.replied": "Reply sent", "event.sla.breached": "SLA breached",
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
    "nav.key_accounts": "My key accounts", "key.key_accounts": "Go to my key accounts", "nav.notifications": "Notifications", "nav.menu": "Views",
    "tags.label": "Tags", "tags.add": "Add tag", "tags.new": "New tag", "tags.remove": "Remove tag {tag}",
    "tags.filter": "Filter by tag", "tags.clear": "Show all", "tags.department": "Department",
    "tags.added": "Tag {tag} added", "tags.removed": "Tag {tag} removed", "tags.filtered": "Only conversations tagged {tag}",
    "tags.none": "No tags", "tags.apply": "Filter", "side.pinned_by": "pinned by {who}",
    "ka.title": "My key accounts", "ka.account": "Account", "ka.open": "Open conversations", "ka.last_contact": "Last contact",
    "ka.revenue": "Revenue", "ka.none": "You manage no key accounts.", "ka.not_visible": "not in your view", "ka.no_open": "none open",
    "status.open": "open", "status.closed": "closed",
    "identity.email": "Email", "identity.phone": "Phone", "identity.fax": "Fax", "identity.chat_visitor": "Chat visitor",
    "identity.external": "External id",
    "purpose.service": "Service", "purpose.marketing": "Marketing",
    "breach.first_response": "first response", "breach.next_response": "next response",
    "cust.add_identity": "Add identity", "cust.identity_kind": "Kind", "cust.identity_value": "Value",
    "cust.remove_identity": "Remove {value}", "cust.identity_removed": "Identity removed", "cust.identity_added": "Identity added",
    "cust.consent_record": "Record consent", "cust.consent_channel": "Channel", "cust.consent_purpose": "Purpose",
    "cust.grant": "Record as granted", "cust.withdraw": "Withdraw", "cust.regrant": "Grant again", "cust.consent_saved": "Consent recorded",
    "cust.withdraw_one": "Withdraw consent: {channel} · {purpose}", "cust.regrant_one": "Grant consent again: {channel} · {purpose}",
    "cust.record": "Record", "cust.pin_tier": "Pin tier…", "cust.pin_title": "Pin the tier", "cust.pin_auto": "Let the rules decide",
    "cust.pin_reason": "Reason", "cust.pin_submit": "Save tier", "cust.pinned": "Tier saved", "cust.tier": "Tier",
    "cust.merge": "Merge another record…", "cust.merge_title": "Merge another customer into this one",
    "cust.merge_search": "Search by name, organisation, email or phone", "cust.merge_none": "No other record found.",
    "cust.merge_submit": "Merge into this record", "cust.merged": "Records merged", "cust.merges": "Merges",
    "cust.unmerge": "Undo merge", "cust.unmerged": "Merge undone", "cust.merge_of": "Merged {other} · {at}",
    "cust.export": "Export data (JSON)", "cust.erase": "Erase customer…", "cust.erase_title": "Erase this customer's personal data",
    "cust.erase_warning": "This cannot be undone: the name, identities, messages and attachments are deleted for ever.",
    "cust.erase_type": "Type {word} to confirm", "cust.erase_word": "ERASE", "cust.erase_submit": "Erase for ever", "cust.erased": "Customer erased",
    "cust.search": "Search", "cust.actions": "Record",
    "notify.title": "Notifications", "notify.intro": "Tell me about these, also while the console is not the visible tab:",
    "notify.kind": "Event", "notify.desktop": "Notification", "notify.sound": "Sound", "notify.offers": "Offers",
    "notify.mentions": "Mentions", "notify.sla": "SLA warnings", "notify.test": "Play the sound",
    "notify.denied": "The browser blocks notifications for this site: allow them in its site settings.",
    "notify.unsupported": "This browser cannot show notifications; the tab title and the sound still tell you.",
    "notify.offer_title": "New offer: {name}", "notify.offer_body": "{channel} · accept within {s} s",
    "notify.mention_title": "{by} mentioned you", "notify.sla_title": "SLA due soon: {name}", "notify.sla_body": "{kind} due {t}",
    "event.conversation.tagged": "Tags changed by {by}: {changes}", "event.identity.added": "Identity added ({kind})",
    "event.identity.removed": "Identity removed ({kind})", "event.customer.unmerged": "Merge undone",
    "event.customer.erased": "Personal data erased", "event.tier.pinned": "Tier pinned: {to}", "event.tier.unpinned": "Tier pin removed",
    "event.routing.escalated": "Escalated to the next target", "event.routing.out_of_hours": "Arrived out of hours ({queue})",
    "event.consent.granted": "Consent granted: {channel} · {purpose}", "event.consent.withdrawn": "Consent withdrawn: {channel} · {purpose}",
    "event.tier.changed_to": "Tier changed: {from} → {to}", "event.other": "Event: {action}",
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
    "chat.claimed": "Gibt an, {value} zu sein (nicht geprüft)", "chat.confirm_claim": "Bestätigen: dem Kunden hinzufügen",
    "chat.claim_added": "{value} ist eine Identität des Kunden",
    "chat.claimed_held": "Gibt an, {value} zu sein: das gehört zu einem anderen Kunden – erst nach Prüfung zusammenführen",
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
    "event.message.replied": "Antwort gesendet", "event.sla.breached": "SLA verletzt",
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
    "nav.key_accounts": "Meine Key Accounts", "key.key_accounts": "Zu meinen Key Accounts", "nav.notifications": "Benachrichtigungen", "nav.menu": "Ansichten",
    "tags.label": "Tags", "tags.add": "Tag hinzufügen", "tags.new": "Neues Tag", "tags.remove": "Tag {tag} entfernen",
    "tags.filter": "Nach Tag filtern", "tags.clear": "Alle zeigen", "tags.department": "Abteilung",
    "tags.added": "Tag {tag} hinzugefügt", "tags.removed": "Tag {tag} entfernt", "tags.filtered": "Nur Gespräche mit dem Tag {tag}",
    "tags.none": "Keine Tags", "tags.apply": "Filtern", "side.pinned_by": "festgelegt von {who}",
    "ka.title": "Meine Key Accounts", "ka.account": "Kunde", "ka.open": "Offene Gespräche", "ka.last_contact": "Letzter Kontakt",
    "ka.revenue": "Umsatz", "ka.none": "Sie betreuen keine Key Accounts.", "ka.not_visible": "nicht in Ihrer Sicht", "ka.no_open": "keine offen",
    "status.open": "offen", "status.closed": "geschlossen",
    "identity.email": "E-Mail", "identity.phone": "Telefon", "identity.fax": "Fax", "identity.chat_visitor": "Chat-Besucher:in",
    "identity.external": "Externe ID",
    "purpose.service": "Service", "purpose.marketing": "Marketing",
    "breach.first_response": "erste Antwort", "breach.next_response": "nächste Antwort",
    "cust.add_identity": "Identität hinzufügen", "cust.identity_kind": "Art", "cust.identity_value": "Wert",
    "cust.remove_identity": "{value} entfernen", "cust.identity_removed": "Identität entfernt", "cust.identity_added": "Identität hinzugefügt",
    "cust.consent_record": "Einwilligung erfassen", "cust.consent_channel": "Kanal", "cust.consent_purpose": "Zweck",
    "cust.grant": "Als erteilt erfassen", "cust.withdraw": "Widerrufen", "cust.regrant": "Wieder erteilen", "cust.consent_saved": "Einwilligung erfasst",
    "cust.withdraw_one": "Einwilligung widerrufen: {channel} · {purpose}", "cust.regrant_one": "Einwilligung wieder erteilen: {channel} · {purpose}",
    "cust.record": "Erfassen", "cust.pin_tier": "Stufe festlegen…", "cust.pin_title": "Stufe festlegen", "cust.pin_auto": "Regeln entscheiden lassen",
    "cust.pin_reason": "Grund", "cust.pin_submit": "Stufe speichern", "cust.pinned": "Stufe gespeichert", "cust.tier": "Stufe",
    "cust.merge": "Anderen Datensatz zusammenführen…", "cust.merge_title": "Einen anderen Kunden in diesen zusammenführen",
    "cust.merge_search": "Suche nach Name, Organisation, E-Mail oder Telefon", "cust.merge_none": "Kein anderer Datensatz gefunden.",
    "cust.merge_submit": "In diesen Datensatz zusammenführen", "cust.merged": "Datensätze zusammengeführt", "cust.merges": "Zusammenführungen",
    "cust.unmerge": "Zusammenführung aufheben", "cust.unmerged": "Zusammenführung aufgehoben", "cust.merge_of": "{other} zusammengeführt · {at}",
    "cust.export": "Daten exportieren (JSON)", "cust.erase": "Kunden löschen…", "cust.erase_title": "Personenbezogene Daten dieses Kunden löschen",
    "cust.erase_warning": "Das lässt sich nicht rückgängig machen: Name, Identitäten, Nachrichten und Anhänge werden endgültig gelöscht.",
    "cust.erase_type": "Zur Bestätigung {word} eingeben", "cust.erase_word": "LÖSCHEN", "cust.erase_submit": "Endgültig löschen", "cust.erased": "Kunde gelöscht",
    "cust.search": "Suchen", "cust.actions": "Datensatz",
    "notify.title": "Benachrichtigungen", "notify.intro": "Darüber informieren, auch wenn die Konsole nicht der sichtbare Tab ist:",
    "notify.kind": "Ereignis", "notify.desktop": "Benachrichtigung", "notify.sound": "Ton", "notify.offers": "Angebote",
    "notify.mentions": "Erwähnungen", "notify.sla": "SLA-Warnungen", "notify.test": "Ton abspielen",
    "notify.denied": "Der Browser blockiert Benachrichtigungen für diese Seite: erlauben Sie sie in den Website-Einstellungen.",
    "notify.unsupported": "Dieser Browser kann keine Benachrichtigungen zeigen; Tab-Titel und Ton melden sich trotzdem.",
    "notify.offer_title": "Neues Angebot: {name}", "notify.offer_body": "{channel} · annehmen innerhalb von {s} s",
    "notify.mention_title": "{by} hat Sie erwähnt", "notify.sla_title": "SLA bald fällig: {name}", "notify.sla_body": "{kind} fällig {t}",
    "event.conversation.tagged": "Tags geändert von {by}: {changes}", "event.identity.added": "Identität hinzugefügt ({kind})",
    "event.identity.removed": "Identität entfernt ({kind})", "event.customer.unmerged": "Zusammenführung aufgehoben",
    "event.customer.erased": "Personenbezogene Daten gelöscht", "event.tier.pinned": "Stufe festgelegt: {to}", "event.tier.unpinned": "Festgelegte Stufe aufgehoben",
    "event.routing.escalated": "An das nächste Ziel eskaliert", "event.routing.out_of_hours": "Außerhalb der Geschäftszeiten eingegangen ({queue})",
    "event.consent.granted": "Einwilligung erteilt: {channel} · {purpose}", "event.consent.withdrawn": "Einwilligung widerrufen: {channel} · {purpose}",
    "event.tier.changed_to": "Stufe geändert: {from} → {to}", "event.other": "Ereignis: {action}",
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

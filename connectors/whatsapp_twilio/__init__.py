"""WhatsApp through Twilio: inbound webhooks, replies and templates through the outbox, delivery reports."""

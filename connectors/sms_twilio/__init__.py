"""SMS and MMS through Twilio: inbound webhooks, replies through the outbox, delivery reports."""

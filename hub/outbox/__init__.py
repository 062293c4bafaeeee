"""Replies leave through a durable outbox: queued with their message, sent and retried by a worker."""

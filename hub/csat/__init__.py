"""Customer satisfaction: one question after a conversation, on its channel (``surveys``),
by the settings an admin keeps (``config``)."""

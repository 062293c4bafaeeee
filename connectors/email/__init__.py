"""Email: mailboxes watched by IMAP IDLE (one watcher per ``[connectors.email.mailboxes.NAME]``),
replies sent through SMTP from the outbox. A permanent bounce of one of our replies marks
that reply undelivered (with the status code) instead of opening a conversation."""

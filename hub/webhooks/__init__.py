"""Outgoing webhooks: what happened, POSTed to the URLs admins registered, signed, and
tried again until each receiver has taken it (``delivery``)."""

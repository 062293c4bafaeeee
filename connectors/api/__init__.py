"""The API channel: integrations inject inbound messages with ``POST /api/v1/messages``;
agents' replies go to the integration's ``reply_url`` when one is configured."""

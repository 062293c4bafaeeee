"""The website chat channel's hub side, in one place: the widget protocol's frames
(``frames``, pure), sites, visitors, the feed a widget shows (the chat's outbox),
whether anyone is there to answer, and the fan-out of bus events to visitor sockets.

It lives in the hub, not in ``connectors/chat``, because it needs the store (a visitor's
conversation is replayed from it) and the bus; ``connectors/chat`` is the connector the
outbox sends through, and ``hub/web/widget_*.py`` are the thin HTTP and socket handlers."""

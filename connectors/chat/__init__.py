"""The website chat widget's channel as the outbox sees it: replies go to the visitor's
widget feed through the one service the hub hands over (``Services.chat``). Visitors'
messages come over ``/ws/widget``, which the hub serves (``hub/widget``), as it needs the
store to replay a conversation."""

"""The website chat widget's channel: visitors' messages come over ``/ws/widget`` (the hub
serves it, as it needs the store to replay a conversation) and replies go to the
visitor's widget feed."""

"""Phone calls through Twilio Voice: menu, dial to the agent the router picks, voicemail."""

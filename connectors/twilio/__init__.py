"""What the Twilio channels (SMS, voice) share: accounts, webhook signatures, TwiML replies."""

"""What the Twilio channels (SMS, voice) share: accounts, webhook signatures, media
downloads. A library, not a connector: ``connectors.sms_twilio`` and
``connectors.voice_twilio`` both use it, and neither imports the other."""

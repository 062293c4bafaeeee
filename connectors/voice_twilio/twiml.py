"""The call flow as TwiML, built with ``twilio.twiml.voice_response``. Pure.

greeting (in the caller's language) + menu -> the agent the router picks (<Dial>), or,
out of hours / nobody free / no answer, a voicemail (<Record>).
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

BASE = "/webhooks/twilio/voice"
GERMAN_SPEAKING = ("+49", "+43", "+41", "+423")
MENU = {"1": "service", "2": "sales", "3": "marketing"}
SWITCH_LANGUAGE = "9"
VOICES = {"de": "de-DE", "en": "en-GB"}
TEXT = {
    "de": {
        "greeting": "Willkommen. Für den Kundendienst drücken Sie die 1, für den Vertrieb die 2, "
        "für Marketing die 3. For English, press 9.",
        "connecting": "Einen Moment bitte, wir verbinden Sie.",
        "closed": "Wir sind gerade nicht erreichbar.",
        "busy": "Leider ist gerade niemand frei.",
        "voicemail": "Bitte hinterlassen Sie nach dem Signalton eine Nachricht. Wir rufen Sie zurück.",
        "thanks": "Danke für Ihre Nachricht. Auf Wiederhören.",
    },
    "en": {
        "greeting": "Welcome. For customer service press 1, for sales press 2, for marketing press 3. "
        "Für Deutsch drücken Sie die 9.",
        "connecting": "One moment please, we are connecting you.",
        "closed": "We are closed right now.",
        "busy": "Sorry, nobody is free at the moment.",
        "voicemail": "Please leave a message after the tone. We will call you back.",
        "thanks": "Thank you for your message. Goodbye.",
    },
}


def language_of(number: str) -> str:
    return "de" if number.startswith(GERMAN_SPEAKING) else "en"


def greeting(language: str) -> str:
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=f"{BASE}/menu?lang={language}", timeout=6)
    gather.say(TEXT[language]["greeting"], language=VOICES[language])
    response.append(gather)
    response.redirect(f"{BASE}/menu?lang={language}")  # no key pressed: the first choice
    return str(response)


def choice(digits: str, language: str) -> tuple[str | None, str]:
    """The department chosen, or None with the other language when 9 switches it."""
    if digits == SWITCH_LANGUAGE:
        return None, "en" if language == "de" else "de"
    return MENU.get(digits, "service"), language


def dial(address: str, language: str, timeout_s: int) -> str:
    response = VoiceResponse()
    response.say(TEXT[language]["connecting"], language=VOICES[language])
    dial = response.dial(timeout=timeout_s, action=f"{BASE}/dialed?lang={language}")
    if address.startswith("sip:"):
        dial.sip(address)
    else:
        dial.number(address)
    return str(response)


def voicemail(language: str, why: str) -> str:
    """``why``: closed or busy."""
    response = VoiceResponse()
    response.say(f"{TEXT[language][why]} {TEXT[language]['voicemail']}", language=VOICES[language])
    response.record(
        max_length=120,
        play_beep=True,
        action=f"{BASE}/recorded?lang={language}",
        transcribe=True,
        transcribe_callback=f"{BASE}/transcribed",
    )
    return str(response)


def goodbye(language: str) -> str:
    response = VoiceResponse()
    response.say(TEXT[language]["thanks"], language=VOICES[language])
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)

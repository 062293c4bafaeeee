"""SMS keywords that change consent (English and German). Pure: no I/O."""

from __future__ import annotations

STOP = frozenset({"STOP", "STOPP", "ABMELDEN", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT"})
START = frozenset({"START", "ANMELDEN", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "HILFE", "INFO"})


def keyword_of(text: str) -> str | None:
    """``"stop"``, ``"start"``, ``"help"`` or None. Only a message that is just the keyword
    counts ("Stopp!" yes, "please stop calling me" no: that one goes to an agent)."""
    word = text.strip().strip(".!").upper()
    if word in STOP:
        return "stop"
    if word in START:
        return "start"
    if word in HELP:
        return "help"
    return None

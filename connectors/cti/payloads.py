"""Generic CTI events (the fields of Zammad's generic CTI API) to ``InboundMessage``s. Pure.

``event`` is newCall, answer or hangup; ``direction`` in or out; ``from``/``to`` the
numbers; ``callId`` ties the events of one call together (they share a conversation
thread); ``user[]`` and ``answeringNumber`` name who took it; ``cause`` why it ended.
An inbound call that ends unanswered (cause cancel or noAnswer) is a missed call:
routed work, so that someone calls back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hub.errors import InputError, PayloadRejected
from hub.model import Channel, InboundMessage, MessageKind, ThreadHint
from hub.request_body import Form
from hub.text.addresses import phone_address

EVENTS = ("newCall", "answer", "hangup")
CAUSES = ("normalClearing", "busy", "cancel", "noAnswer", "congestion", "notFound", "forwarded")
MISSED = ("cancel", "noAnswer")
USERS = ("user[]", "user")


def json_fields(body: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The event fields and ``user`` list of a JSON body. A field is text (a number is
    taken as its digits); anything else is PayloadRejected naming it, never its ``str()``."""
    fields: dict[str, str] = {}
    for name, value in body.items():
        if name in USERS or value is None:  # null: as if absent
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PayloadRejected(f"{name}: must be text, not {type(value).__name__}", field=name)
        fields[name] = str(value)
    users = body.get("user") or []
    users = [users] if isinstance(users, str) else users
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise PayloadRejected("user: a list of names", field="user")
    return fields, users


def form_fields(form: Form) -> tuple[dict[str, str], list[str]]:
    """The event fields and ``user[]`` values of a form; a file part is PayloadRejected
    naming its field (it is no call event field, and its ``str()`` is no number)."""
    if form.files:
        name = form.files[0].name
        raise PayloadRejected(f"{name}: a file is not a call event field", field=name)
    fields = {k: v for k, v in form.fields.items() if k not in USERS}
    return fields, [v for k, v in form.fields.items() if k in USERS]


def parse_cti(
    form: Mapping[str, str], users: Sequence[str], *, received_at: datetime, region: str
) -> InboundMessage:
    event = form.get("event", "")
    if event not in EVENTS:
        raise InputError(f"event: one of {', '.join(EVENTS)}", field="event")
    direction = form.get("direction", "in")
    if direction not in ("in", "out"):
        raise InputError("direction: in or out", field="direction")
    call_id = form.get("callId", "").strip()
    if not call_id:
        raise InputError("callId is missing", field="callId")
    cause = form.get("cause", "")
    if cause and cause not in CAUSES:
        raise InputError(f"cause: one of {', '.join(CAUSES)}", field="cause")
    customer_number, our_number = (
        (form.get("from"), form.get("to"))
        if direction == "in"
        else (
            form.get("to"),
            form.get("from"),
        )
    )
    if not customer_number:
        raise InputError("the caller's number is missing", field="from" if direction == "in" else "to")
    missed = event == "hangup" and direction == "in" and cause in MISSED
    answered_by = form.get("answeringNumber") or ", ".join(users)
    text = {
        "newCall": f"{'Incoming' if direction == 'in' else 'Outgoing'} call",
        "answer": f"Call answered{' by ' + answered_by if answered_by else ''}",
        "hangup": "Missed call" if missed else f"Call ended ({cause or 'normalClearing'})",
    }[event]
    meta = {"event": event, "call_id": call_id, "direction": direction}
    if cause:
        meta["cause"] = cause
    if answering := form.get("answeringNumber"):
        try:  # as agents' phones are stored, so the screen pop finds the agent
            meta["answering_number"] = phone_address(answering, region, "answeringNumber").value
        except InputError:  # an extension or a SIP address: kept as the PBX sent it
            meta["answering_number"] = answering
    if users:
        meta["users"] = ", ".join(users)
    return InboundMessage(
        channel=Channel.VOICE,
        external_id=f"cti:{call_id}:{event}",
        sender=phone_address(customer_number, region, "from"),
        recipient=phone_address(our_number, region, "to") if our_number else None,
        thread_hint=ThreadHint(key=f"call:{call_id}"),
        text=text,
        kind=MessageKind.MISSED_CALL if missed else MessageKind.CALL_EVENT,
        received_at=received_at,
        meta=meta,
    )

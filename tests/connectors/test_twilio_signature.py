"""All 48 X-Twilio-Signature vectors through our validation path (the library does the HMAC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from connectors.lib.twilio.signature import signature_valid

DATA = json.loads((Path(__file__).parent / "fixtures" / "twilio_vectors.json").read_text())
VECTORS = DATA["vectors"]


def form_of(params) -> MultiDict[str]:
    form: MultiDict[str] = MultiDict()
    items = params.items() if isinstance(params, dict) else params or []
    for name, value in items:
        for v in value if isinstance(value, list) else [value]:
            form.add(name, "" if v is None else v)
    return form


def test_the_vector_file_is_whole() -> None:
    assert len(VECTORS) == 48
    assert sum(v["expected_valid"] for v in VECTORS) == 40


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict) -> None:
    token = DATA["auth_token"]
    form = form_of(vector["params"])
    if vector["op"] == "compute":
        assert (RequestValidator(token).compute_signature(vector["url"], form) == vector["signature"]) is (
            vector["expected_valid"]
        )
        return
    json_body = vector["body"] if vector["body"] is not None and vector["params"] is None else None
    verdict = signature_valid(token, vector["url"], vector["signature"], form=form, json_body=json_body)
    assert verdict is vector["expected_valid"]


def test_no_signature_or_no_token_never_validates() -> None:
    v = VECTORS[0]
    assert not signature_valid(DATA["auth_token"], v["url"], None, form=form_of(v["params"]))
    assert not signature_valid("", v["url"], v["signature"], form=form_of(v["params"]))
    assert not signature_valid("54321", v["url"], v["signature"], form=form_of(v["params"]))

"""Address normalisation on real-world forms. Pure: no event loop."""

from __future__ import annotations

import pytest

from hub.errors import InputError
from hub.model import AddressKind
from hub.text.addresses import mask, normalise_address


@pytest.mark.parametrize(
    "raw", ["0171 1234567", "+49 (0)171-1234567", "0049 171 1234567", "+491711234567", "0171/1234567"]
)
def test_german_mobile_forms_are_one_e164(raw: str) -> None:
    assert normalise_address(AddressKind.PHONE, raw, default_region="DE").value == "+491711234567"


def test_default_region_decides_national_numbers() -> None:
    assert normalise_address(AddressKind.FAX, "020 7123 4567", default_region="GB").value == "+442071234567"


def test_email_is_lower_cased() -> None:
    addr = normalise_address(AddressKind.EMAIL, " Max.Mustermann@Example.COM ", default_region="DE")
    assert addr.value == "max.mustermann@example.com"


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (AddressKind.PHONE, "call me"),
        (AddressKind.PHONE, "12"),
        (AddressKind.EMAIL, "no-at-sign"),
        (AddressKind.EMAIL, "a@b"),
        (AddressKind.CHAT_VISITOR, "   "),
        (AddressKind.EXTERNAL, "x" * 400),
    ],
)
def test_impossible_values_are_refused_with_the_field(kind: AddressKind, raw: str) -> None:
    with pytest.raises(InputError) as err:
        normalise_address(kind, raw, default_region="DE", field="from.value")
    assert err.value.field == "from.value"


def test_chat_visitor_keeps_case() -> None:
    assert normalise_address(AddressKind.CHAT_VISITOR, "Vis-AbC", default_region="DE").value == "Vis-AbC"


def test_mask_hides_most_of_an_address() -> None:
    assert mask("email", "jane.doe@example.com") == "j…@example.com"
    assert mask("phone", "+491711234567") == "+49…567"
    assert "1234" not in mask("phone", "+491711234567")

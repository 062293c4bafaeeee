"""The shapes of a contract and of a revenue booking as callers send them (the contract
routes, the integration's batches, the JSON-lines import): one definition, so each path
refuses the same things with the same words."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from hub.validation import NULLABLE, RequestModel

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _day_text(value: Any) -> Any:
    """A day as JSON gives it: ``YYYY-MM-DD`` text only (not a number of seconds)."""
    if value is not None and not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("a day as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_day_text)]


class ContractFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=300, description="the product or contract")
    starts_on: Annotated[Day | None, NULLABLE] = None
    ends_on: Annotated[Day | None, NULLABLE] = Field(None, description="none: until cancelled")
    notice_days: Annotated[int | None, NULLABLE] = Field(
        None, strict=True, ge=0, le=3650, description="notice is due this many days before the end"
    )
    value: Annotated[float | None, NULLABLE] = Field(
        None, strict=True, ge=0, le=1e15, allow_inf_nan=False, description="per billing interval"
    )
    currency: Annotated[str | None, NULLABLE] = Field(None, pattern=r"^[A-Z]{3}$")
    billing_interval: Annotated[Literal["month", "quarter", "year", "once"] | None, NULLABLE] = None
    status: Literal["active", "cancelled", "ended"] | None = None
    external_ref: Annotated[str | None, NULLABLE] = Field(
        None, min_length=1, max_length=200, description="the ERP's or CRM's key"
    )


class ContractIn(ContractFields):
    name: str = Field(min_length=1, max_length=300, description="the product or contract")
    status: Literal["active", "cancelled", "ended"] = "active"


class ContractRecordIn(ContractIn):
    """A contract kept by its external reference (an ERP's)."""

    external_ref: str = Field(min_length=1, max_length=200, description="the ERP's or CRM's key")


class BookingIn(RequestModel):
    """Revenue booked for one month, by the ERP's reference of the booking."""

    model_config = ConfigDict(extra="forbid")
    external_ref: str = Field(min_length=1, max_length=200, description="the ERP's key of this booking")
    month: str = Field(pattern=MONTH, description="YYYY-MM")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: Annotated[float, Field(strict=True, ge=-1e15, le=1e15, allow_inf_nan=False)] = Field(
        description="booked in that month; a credit note is negative"
    )

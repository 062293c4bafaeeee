"""Validating request bodies with pydantic models into InputErrors that name each field.

Every request model derives from ``RequestModel``: a field that may be left out (its
type admits ``None`` so that "absent" can be told apart) still refuses an explicit
``null``, unless its declaration is ``Annotated[... | None, NULLABLE]``: null then means
something the store can hold (clear the team, wake the conversation now). Without this a
PATCH with ``"capacity": null`` was stored, and broke whoever read the row next.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from hub.errors import InputError

M = TypeVar("M", bound=BaseModel)


class _Nullable:
    """Marks a field whose ``null`` is a value, not a mistake."""

    def __repr__(self) -> str:
        return "NULLABLE"


NULLABLE = _Nullable()


def accepts_null(field: FieldInfo) -> bool:
    return NULLABLE in field.metadata


def _schema_without_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The served OpenAPI says what validation does: null only where it is accepted."""
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name)
        if prop is None or accepts_null(field) or {"type": "null"} not in prop.get("anyOf", ()):
            continue
        rest = [s for s in prop.pop("anyOf") if s != {"type": "null"}]
        if len(rest) == 1:
            prop.update(rest[0])
        else:
            prop["anyOf"] = rest
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class RequestModel(BaseModel):
    """A request body (or a part of one): ``null`` is refused for every field that is
    not marked ``NULLABLE``, with a 422 naming the field."""

    model_config = ConfigDict(json_schema_extra=_schema_without_null)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name is not None:
            if not accepts_null(cls.model_fields[info.field_name]):
                raise PydanticCustomError("null_refused", "may not be null; leave the field out instead")
        return value


class InvalidFields(InputError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(detail, field=errors[0]["field"])
        self.errors = errors


def validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidFields(
            [
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
                for e in exc.errors()
            ]
        ) from exc

"""The base of every settings section, here and in the connectors' own settings modules:
unknown keys are errors, values are frozen, attribute docstrings describe the field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # attribute docstrings become descriptions: the admin pages show them as field hints
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

"""An explicit ``null`` is refused, with a 422 naming the field, wherever it cannot be
stored (issue 22, defect 6): it used to be stored, and the router then failed on it."""

from __future__ import annotations

import importlib
import pkgutil
import typing

import pytest
import sqlalchemy as sa

import hub.app  # noqa: F401  (imports every route module, so every request model exists)
from hub.keys import STORE
from hub.store.tables import agents
from hub.validation import InvalidFields, RequestModel, accepts_null, validated
from tests.conftest import HubClient, sign_in_all


def _models() -> list[type[RequestModel]]:
    found, todo = [], list(RequestModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return sorted(found, key=lambda m: m.__qualname__)


def _optional_fields() -> list[tuple[type[RequestModel], str]]:
    """Every field that may be left out and is not marked NULLABLE."""
    return [
        (model, name)
        for model in _models()
        for name, field in model.model_fields.items()
        if not accepts_null(field) and type(None) in typing.get_args(field.annotation)
    ]


def test_every_request_body_model_refuses_null() -> None:
    """The pattern: every model a handler validates a body with derives from RequestModel."""
    from pydantic import BaseModel

    import connectors.api.payloads as api
    import hub.web as web_package

    names = {m.__qualname__ for m in _models()}
    assert {"AgentFields", "AgentIn", "CannedFields", "CannedIn", "SimulateIn", "MessageIn"} <= names
    for module_info in pkgutil.iter_modules(web_package.__path__):
        module = importlib.import_module(f"hub.web.{module_info.name}")
        for value in vars(module).values():
            ours = isinstance(value, type) and value.__module__ == module.__name__
            if ours and issubclass(value, BaseModel):
                assert issubclass(value, RequestModel) or value.__name__.endswith("Out"), value
    assert issubclass(api.MessageIn, RequestModel) and issubclass(api.Sender, RequestModel)


@pytest.mark.parametrize(("model", "name"), _optional_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_null_is_refused_naming_the_field(model: type[RequestModel], name: str) -> None:
    with pytest.raises(InvalidFields) as refused:
        validated(model, {(model.model_fields[name].alias or name): None})
    assert any(e["field"] == (model.model_fields[name].alias or name) for e in refused.value.errors)
    assert "may not be null" in refused.value.detail


def test_null_stays_a_value_where_it_means_something() -> None:
    from hub.web.agents import AgentFields
    from hub.web.canned import CannedFields
    from hub.web.conversations import SnoozeIn

    assert validated(AgentFields, {"phone": None}).model_fields_set == {"phone"}
    assert validated(CannedFields, {"team": None}).team is None
    assert validated(SnoozeIn, {"until": None}).until is None


def test_the_served_schema_says_which_fields_take_null() -> None:
    from hub.web.agents import AgentFields

    props = AgentFields.model_json_schema()["properties"]
    assert props["capacity"]["type"] == "object" and "anyOf" not in props["capacity"]
    assert {"type": "null"} in props["phone"]["anyOf"]


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_the_api_refuses_null_where_it_was_stored_or_gave_500(hub: HubClient) -> None:
    admin = (await sign_in_all(hub))["admin"]
    new = {"email": "nulls@test.example", "name": "Nulls"}
    for field in ("capacity", "role", "active", "totp_required", "languages", "teams"):
        resp = await hub.client.post("/api/v1/agents", headers=admin, json={**new, field: None})
        assert resp.status == 422, (field, await resp.text())
        problem = await resp.json()
        assert problem["field"] == field and "may not be null" in problem["detail"]
    async with hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(agents.c.id).where(agents.c.email == new["email"])) is None

    resp = await hub.client.post("/api/v1/agents", headers=admin, json=new)
    assert resp.status == 201
    agent_id = (await resp.json())["id"]
    for field in ("capacity", "role", "active", "totp_required", "name"):
        resp = await hub.client.patch(f"/api/v1/agents/{agent_id}", headers=admin, json={field: None})
        assert resp.status == 422, (field, await resp.text())
        assert (await resp.json())["field"] == field
    resp = await hub.client.patch(f"/api/v1/agents/{agent_id}", headers=admin, json={"phone": None})
    assert resp.status == 200

    canned = {"title": "Hi", "shortcut": "hi", "body": "Hello"}
    resp = await hub.client.post("/api/v1/canned-responses", headers=admin, json={**canned, "title": None})
    assert resp.status == 422 and (await resp.json())["field"] == "title"
    resp = await hub.client.post("/api/v1/canned-responses", headers=admin, json={**canned, "team": None})
    assert resp.status == 201
    canned_id = (await resp.json())["id"]
    url = f"/api/v1/canned-responses/{canned_id}"
    resp = await hub.client.patch(url, headers=admin, json={"title": None})
    assert resp.status == 422 and (await resp.json())["field"] == "title"

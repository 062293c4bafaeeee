"""Bulk import of customers from CSV or JSON lines: upsert by any identity.

Each row names identities (email, phone, fax, external_id; JSON lines may give lists)
and fields. A row whose identities already belong to one customer updates that customer;
to none, creates one; to two different customers, is rejected (merge them first). Rows
are applied in batches, each in one transaction; the report lists created, updated and
rejected rows, each rejection with its line and reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit, contracts, revenue
from hub.customers.inputs import BookingIn, ContractRecordIn
from hub.customers.records import CustomerRecords
from hub.errors import InputError
from hub.store import search_index
from hub.store.bulk import insert_rows, pairs_in
from hub.store.engine import Store
from hub.store.repos import contracts as contract_repo
from hub.store.search_terms import all_rows
from hub.store.tables import agents, customers, identities, search_terms
from hub.untrusted import finite_number, nul_at
from hub.validation import validated

BATCH = 1000
ANALYZE_AFTER = 5000  # rows; a large import changes the tables enough to re-plan queries
IDENTITY_COLUMNS = {"email": "email", "phone": "phone", "fax": "fax", "external_id": "external"}
FIELD_COLUMNS = {
    "name",
    "organisation",
    "language",
    "key_account",
    "key_account_manager",
    "revenue_12m",
    "currency",
    "payment_terms",
    "contracts",
}
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_CONTRACT_NAME = 300  # as the contract routes take it
_TRUE = {"1", "true", "yes", "ja", "y", "x"}
_FALSE = {"0", "false", "no", "nein", "n", ""}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # line -> (created, updated or unchanged; the customer's id): the integration API's
    # result per item (hub/web/integration.py)
    outcomes: dict[int, tuple[str, str]] = field(default_factory=dict)
    # a row's contract or booking that could not be stored (its customer was): line, reason
    item_errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected_count": len(self.rejected),
            "rejected": self.rejected[:1000],
            "item_errors": self.item_errors[:1000],
        }


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    identities: list[tuple[str, str]]
    fields: dict[str, Any]
    manager_email: str | None
    # JSON lines only: contracts with their reference, and revenue bookings
    contracts: list[dict[str, Any]] = field(default_factory=list)
    bookings: list[dict[str, Any]] = field(default_factory=list)


def read_rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, raw row or the reason it cannot be read). Pure."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.replace("\x00", "")))  # no database stores a NUL
        unknown = [
            c
            for c in reader.fieldnames or []
            if c not in FIELD_COLUMNS and c not in IDENTITY_COLUMNS and not c.startswith("custom.")
        ]
        if unknown:
            raise InputError(
                f"unknown column {unknown[0]!r}; known: "
                f"{', '.join(sorted(FIELD_COLUMNS | set(IDENTITY_COLUMNS)))}, custom.<name>",
                field="file",
            )
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    elif fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line, parse_constant=_not_json)
            except json.JSONDecodeError as exc:
                yield n, f"not valid JSON: {exc.msg} at column {exc.colno}"
                continue
            except ValueError as exc:  # NaN or Infinity, which Python's json takes and JSON has not
                yield n, f"not valid JSON: {exc}"
                continue
            if not isinstance(value, dict):
                yield n, "each line must be a JSON object"
            elif "\\u0000" in line and (where := nul_at(value)) is not None:
                yield n, f"{where}: holds a NUL character (\\u0000), which cannot be stored"
            else:
                yield n, value
    else:
        raise InputError("format: 'csv' or 'jsonl'", field="format")


def parse_row(line: int, raw: Mapping[str, Any], records: CustomerRecords) -> ImportRow:
    """Validate one row; raise InputError with the reason. Pure."""
    idents = _identities(raw, records)
    if not idents:
        raise InputError("no identity: give at least one of email, phone, fax, external_id")
    fields: dict[str, Any] = {}
    for key in ("name", "organisation", "language", "payment_terms"):
        if raw.get(key) not in (None, ""):
            fields[key] = str(raw[key]).strip()
    if raw.get("key_account") not in (None, ""):
        flag = str(raw["key_account"]).strip().lower()
        if flag not in _TRUE | _FALSE:
            raise InputError(f"key_account: {raw['key_account']!r} is not yes or no")
        fields["key_account"] = flag in _TRUE
    if (revenue := _revenue(raw, records)) is not None:
        fields["revenue"] = revenue
    listed = raw.get("contracts")
    records_given = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    if names := _contract_names(
        [c for c in listed if not isinstance(c, dict)] if isinstance(listed, list) else listed
    ):
        fields["contracts"] = names
    if custom := _custom(raw):
        fields["custom"] = custom
    manager = raw.get("key_account_manager")
    return ImportRow(
        line,
        idents,
        fields,
        str(manager).strip().lower() if manager else None,
        contracts=[_record(ContractRecordIn, c, f"contracts[{i}]") for i, c in enumerate(records_given)],
        bookings=[_booking(b, f"revenue_periods[{i}]") for i, b in enumerate(_list(raw, "revenue_periods"))],
    )


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InputError(f"{key}: a list (JSON lines only)")
    return value


def _record(model: type[ContractRecordIn] | type[BookingIn], value: Any, where: str) -> dict[str, Any]:
    """A contract or booking of a row, checked as the API checks it."""
    try:
        item = validated(model, value)
    except InputError as exc:
        raise InputError(f"{where}.{exc.detail}") from exc
    return item.model_dump(exclude_unset=isinstance(item, ContractRecordIn)) | {
        "external_ref": item.external_ref
    }


def _booking(value: Any, where: str) -> dict[str, Any]:
    booking = _record(BookingIn, value, where)
    return {**booking, "month": datetime.strptime(booking["month"], "%Y-%m").date()}


def _contract_names(value: object) -> list[str]:
    """Contract names: a JSON list, or text separated by ``;``."""
    names = value if isinstance(value, list) else str(value or "").split(";")
    found = [str(name).strip() for name in names if str(name).strip()]
    if any(len(name) > MAX_CONTRACT_NAME for name in found):
        raise InputError(f"contracts: a name over {MAX_CONTRACT_NAME} characters")
    return found


def _identities(raw: Mapping[str, Any], records: CustomerRecords) -> list[tuple[str, str]]:
    """The row's identities, normalised (one value, or a list under the plural column)."""
    idents: list[tuple[str, str]] = []
    for column, kind in IDENTITY_COLUMNS.items():
        values = raw.get(column) or raw.get(column + "s") or []
        for value in [values] if isinstance(values, str) else values:
            if str(value).strip():
                idents.append(records.normalise(kind, str(value), field=column))
    return idents


def _revenue(raw: Mapping[str, Any], records: CustomerRecords) -> dict[str, Any] | None:
    """Figures by name (``revenue``), or ``revenue_12m`` with an optional currency; each in a
    currency the tier rules can convert."""
    revenue = raw.get("revenue")
    if isinstance(revenue, dict):
        figures = {str(k): _money(v, f"revenue.{k}") for k, v in revenue.items()}
    elif raw.get("revenue_12m") not in (None, ""):
        money = {"amount": raw["revenue_12m"], "currency": raw.get("currency") or records.tiers.currency}
        figures = {"revenue_12m": _money(money, "revenue_12m")}
    else:
        return None
    for name, figure in figures.items():
        records.tiers.in_base(name, figure)
    return figures


def _custom(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Custom fields from a ``custom`` object and ``custom.<name>`` columns; numbers finite."""
    custom = dict(raw.get("custom") or {}) if isinstance(raw.get("custom"), dict) else {}
    custom |= {
        k[len("custom.") :]: v for k, v in raw.items() if k.startswith("custom.") and v not in (None, "")
    }
    for key, value in custom.items():
        if isinstance(value, float):
            finite_number(value, f"custom.{key}")
    return custom


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def _money(value: object, field: str) -> dict[str, Any]:
    """``{"amount": <finite number>, "currency": "EUR"}``; InputError naming ``field``. Pure."""
    if not isinstance(value, Mapping) or set(value) - {"amount", "currency"}:
        raise InputError(f"{field}: an amount and a currency", field=field)
    amount = finite_number(value.get("amount"), field if field == "revenue_12m" else f"{field}.amount")
    currency = str(value.get("currency") or "EUR").strip().upper()
    if not _CURRENCY.fullmatch(currency):
        raise InputError(f"{field}: currency {currency[:20]!r} is not a three-letter code", field=field)
    return {"amount": amount, "currency": currency}


class CustomerImporter:
    def __init__(self, store: Store, records: CustomerRecords) -> None:
        self._store = store
        self._records = records

    async def run(
        self, text: str, fmt: str, actor: str, progress: Callable[[int, int], None] | None = None
    ) -> ImportReport:
        return await self.rows(list(read_rows(text, fmt)), actor, progress)

    async def rows(
        self,
        rows: Sequence[tuple[int, Mapping[str, Any] | str]],
        actor: str,
        progress: Callable[[int, int], None] | None = None,
        *,
        one_external_id: bool = False,
    ) -> ImportReport:
        """Rows as a file's lines give them (line, the row or why it cannot be read),
        stored a batch per transaction; the integration API hands its items here, with
        ``one_external_id``: a row whose identities belong to a customer with another
        external id is refused, not given a second one."""
        report = ImportReport()
        total = len(rows)
        for start in range(0, total, BATCH):
            chunk = rows[start : start + BATCH]
            parsed: list[ImportRow] = []
            for line, raw in chunk:
                if isinstance(raw, str):
                    report.rejected.append({"line": line, "reason": raw})
                    continue
                try:
                    parsed.append(parse_row(line, raw, self._records))
                except InputError as exc:
                    report.rejected.append({"line": line, "reason": exc.detail})
            async with self._store.write() as conn:
                await self._apply(conn, parsed, report, actor, one_external_id)
            if progress:
                progress(min(start + BATCH, total), total)
        async with self._store.write() as conn:
            await audit.record(
                conn,
                actor=actor,
                action="customers.imported",
                subject_type="import",
                subject_id=uuid.uuid4().hex,
                customer_id=None,
                data={"created": report.created, "updated": report.updated, "rejected": len(report.rejected)},
            )
        return report

    async def _keep_records(
        self,
        conn: AsyncConnection,
        kept: Sequence[tuple[int, str, dict[str, Any]]],
        report: ImportReport,
        actor: str,
        now: datetime,
    ) -> set[str]:
        """The rows' contracts and bookings, by their references, once their customers
        are stored; one that cannot be stored is an item error. The customers changed."""
        changed: set[str] = set()
        for kind in ("contracts", "revenue_periods"):
            items = [(line, item) for line, of, item in kept if of == kind]
            if not items:
                continue
            values = [item for _, item in items]
            if kind == "contracts":
                done = await contracts.upsert(conn, values, actor, now)
            else:
                done = await revenue.upsert(conn, self._records, values, now)
            for (line, item), result in zip(items, done, strict=True):
                if result.status == "error":
                    report.item_errors.append({"line": line, "reason": f"{kind}: {result.error}"})
                elif result.status != "unchanged":
                    changed.add(item["customer_id"])
        return changed

    async def _apply(
        self,
        conn: AsyncConnection,
        rows: list[ImportRow],
        report: ImportReport,
        actor: str,
        one_external_id: bool = False,
    ) -> None:
        now = datetime.now(UTC)
        pairs = sorted({p for r in rows for p in r.identities})
        owners: dict[tuple[str, str], str] = {}
        if pairs:
            owners = {
                (r.kind, r.value): r.customer_id
                for r in await conn.execute(
                    sa.select(identities.c.kind, identities.c.value, identities.c.customer_id).where(
                        pairs_in(conn, identities.c.kind, identities.c.value, pairs)
                    )
                )
            }
        emails = sorted({r.manager_email for r in rows if r.manager_email})
        managers = (
            {
                r.email: r.id
                for r in await conn.execute(
                    sa.select(agents.c.email, agents.c.id).where(agents.c.email.in_(emails))
                )
            }
            if emails
            else {}
        )
        existing_ids = sorted(set(owners.values()))
        current = (
            {
                r.id: r
                for r in await conn.execute(sa.select(customers).where(customers.c.id.in_(existing_ids)))
            }
            if existing_ids
            else {}
        )
        externals = await _external_ids(conn, existing_ids) if one_external_id else None
        new: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        new_identities: list[dict[str, Any]] = []
        contract_names: dict[str, list[str]] = {}
        kept: list[tuple[int, str, dict[str, Any]]] = []  # a row's contracts and bookings
        tier_events: list[tuple[str, str, str, dict[str, Any]]] = []
        for row in rows:
            found = {owners[p] for p in row.identities if p in owners}
            if len(found) > 1:
                report.rejected.append(
                    {
                        "line": row.line,
                        "reason": "its identities belong to different customers "
                        f"({', '.join(sorted(found))}); merge them first",
                    }
                )
                continue
            if externals is not None and (other := _other_external(row, found, externals)):
                report.rejected.append({"line": row.line, "reason": other})
                continue
            fields = dict(row.fields)
            if row.manager_email:
                if row.manager_email not in managers:
                    report.rejected.append(
                        {"line": row.line, "reason": f"key_account_manager: no agent {row.manager_email}"}
                    )
                    continue
                fields["key_account_manager_id"] = managers[row.manager_email]
            if found:
                cid = found.pop()
                base = updates.get(cid) or new.get(cid) or _columns(current[cid])
                report.updated += cid not in new
                outcome = "updated"
            else:
                cid = str(uuid.uuid4())
                base = {
                    "id": cid,
                    "name": None,
                    "organisation": None,
                    "language": None,
                    "key_account": False,
                    "key_account_manager_id": None,
                    "attributes": {},
                    "tier": self._records.tiers.default,
                    "tier_reason": None,
                    "tier_pinned": False,
                    "created_at": now,
                }
                report.created += 1
                outcome = "created"
            kept.extend((row.line, "contracts", {**item, "customer_id": cid}) for item in row.contracts)
            kept.extend((row.line, "revenue_periods", {**item, "customer_id": cid}) for item in row.bookings)
            if "contracts" in fields:  # records of their own (hub/store/repos/contracts.py)
                contract_names.setdefault(cid, []).extend(fields.pop("contracts"))
            merged = _apply_fields(base, fields, now)
            if not merged["tier_pinned"]:
                decision = self._records.tiers.decide(
                    self._records.tiers.inputs(
                        key_account=merged["key_account"],
                        attributes=merged["attributes"],
                        organisation=merged["organisation"],
                        language=merged["language"],
                    )
                )
                if cid in current and decision.tier != current[cid].tier:
                    tier_events.append((cid, current[cid].tier, decision.tier, decision.reason))
                merged["tier"], merged["tier_reason"] = decision.tier, decision.reason
            (updates if cid in current else new)[cid] = merged
            added = _claim(row.identities, cid, owners, new_identities, now)
            if externals is not None:
                externals.setdefault(cid, set()).update(v for k, v in row.identities if k == "external")
            if outcome == "updated" and not added and _same(base, merged):
                outcome = "unchanged"  # unless a contract name is new (below)
            report.outcomes[row.line] = (outcome, cid)
        await insert_rows(conn, customers, list(new.values()))
        await insert_rows(conn, identities, new_identities)
        if updates:
            await conn.execute(
                sa.update(customers)
                .where(customers.c.id == sa.bindparam("cid"))
                .values({c: sa.bindparam(c) for c in _UPDATED}),
                [{"cid": cid, **{c: v[c] for c in _UPDATED}} for cid, v in updates.items()],
            )
            await conn.execute(sa.delete(search_terms).where(search_terms.c.customer_id.in_(list(updates))))
        await insert_rows(
            conn,
            search_terms,
            all_rows((cid, v["name"], v["organisation"]) for cid, v in {**new, **updates}.items()),
        )
        await search_index.refresh_customers(conn, [*new, *updates])
        contracted = await contract_repo.add_names(conn, contract_names, now)
        contracted |= await self._keep_records(conn, kept, report, actor, now)
        report.outcomes.update(
            [
                (line, ("updated", cid))
                for line, (outcome, cid) in report.outcomes.items()
                if outcome == "unchanged" and cid in contracted
            ]
        )
        for cid, before, after, reason in tier_events:
            await audit.record(
                conn,
                actor=actor,
                action="tier.changed",
                subject_type="customer",
                subject_id=cid,
                customer_id=cid,
                at=now,
                data={"from": before, "to": after, "reason": reason, "source": "import"},
            )


_UPDATED = (
    "name",
    "organisation",
    "language",
    "key_account",
    "key_account_manager_id",
    "attributes",
    "tier",
    "tier_reason",
    "updated_at",
)


async def _external_ids(conn: AsyncConnection, customer_ids: Sequence[str]) -> dict[str, set[str]]:
    """The external ids each of these customers has."""
    found: dict[str, set[str]] = {}
    if customer_ids:
        rows = await conn.execute(
            sa.select(identities.c.customer_id, identities.c.value).where(
                identities.c.kind == "external", identities.c.customer_id.in_(list(customer_ids))
            )
        )
        for r in rows:
            found.setdefault(r.customer_id, set()).add(r.value)
    return found


def _other_external(row: ImportRow, found: set[str], externals: Mapping[str, set[str]]) -> str | None:
    """Why a row keyed by its external id may not update the customer its other
    identities found (that customer has another external id), or None."""
    if not found:
        return None
    customer_id = next(iter(found))
    theirs = externals.get(customer_id, set())
    mine = {value for kind, value in row.identities if kind == "external"}
    if theirs and not mine & theirs:
        return (
            f"its identities belong to customer {customer_id}, whose external id is"
            f" {sorted(theirs)[0]!r}: one customer, one external id here"
        )
    return None


def _claim(
    pairs: Sequence[tuple[str, str]],
    cid: str,
    owners: dict[tuple[str, str], str],
    new_identities: list[dict[str, Any]],
    now: datetime,
) -> bool:
    """The row's identities no customer has yet become ``cid``'s; whether there were any."""
    added = False
    for pair in pairs:
        if pair not in owners:
            owners[pair] = cid
            new_identities.append({"customer_id": cid, "kind": pair[0], "value": pair[1], "created_at": now})
            added = True
    return added


def _same(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a row's fields leave the customer as it was (the time of the change aside)."""
    return all(before.get(k) == after.get(k) for k in after if k != "updated_at")


def _columns(row: sa.Row[Any]) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if k != "erased_at"}


def _apply_fields(base: dict[str, Any], fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    merged = {**base, "attributes": dict(base["attributes"]), "updated_at": now}
    for key, value in fields.items():
        if key in ("payment_terms", "custom"):
            merged["attributes"][key] = value
        elif key == "revenue":
            merged["attributes"]["revenue"] = {**(merged["attributes"].get("revenue") or {}), **value}
        else:
            merged[key] = value
    return merged

"""Migrations keep a rolling upgrade possible (README: Rolling upgrades): a release's
migrations run while the processes of the release before still serve, so a migration
only *expands* the schema (new tables, new nullable columns or columns with a server
default, new indexes, wider types) unless it declares itself a contract step with
``CONTRACT = "<what an older release still used, and why it may go now>"``. This reads
each migration's ``upgrade()`` (ast: it imports nothing) and names every operation that
would break the release before."""

from __future__ import annotations

import ast
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent.parent / "hub" / "store" / "migrations" / "versions"
REMOVING = {"drop_table", "drop_column", "rename_table", "drop_constraint"}


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _breaking(call: ast.Call) -> str | None:
    """Why this operation would break the release before (None: it expands only)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in REMOVING:
        return name
    if name == "alter_column":
        if _keyword(call, "new_column_name") is not None:
            return "alter_column renames"
        nullable = _keyword(call, "nullable")
        if isinstance(nullable, ast.Constant) and nullable.value is False:
            return "alter_column makes a column NOT NULL"
    if name == "add_column":
        for column in (a for a in call.args if isinstance(a, ast.Call)):
            nullable = _keyword(column, "nullable")
            if (
                isinstance(nullable, ast.Constant)
                and nullable.value is False
                and _keyword(column, "server_default") is None
            ):
                return "add_column NOT NULL without a server default (the older release inserts without it)"
    return None


def _contract(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CONTRACT" for t in node.targets):
            if (
                isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and node.value.value.strip()
            ):
                return node.value.value
    return None


def test_every_migration_expands_unless_it_says_it_contracts() -> None:
    found: dict[str, list[str]] = {}
    contracts: list[str] = []
    migrations = sorted(VERSIONS.glob("[0-9]*.py"))
    assert len(migrations) >= 31
    for path in migrations:
        tree = ast.parse(path.read_text())
        upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
        breaking = [
            why for node in ast.walk(upgrade) if isinstance(node, ast.Call) and (why := _breaking(node))
        ]
        if _contract(tree) is not None:
            contracts.append(path.name)
            assert breaking, f"{path.name} says CONTRACT but removes nothing: take the mark off"
        elif breaking:
            found[path.name] = breaking
    assert found == {}, f"these would break the release before during a rolling upgrade: {found}"
    assert contracts == ["0016_login_attempts.py", "0026_automations.py"]


def test_the_check_finds_what_breaks() -> None:
    sample = ast.parse(
        "def upgrade():\n"
        "    op.drop_column('customers', 'name')\n"
        "    op.add_column('customers', sa.Column('x', sa.Integer(), nullable=False))\n"
        "    op.add_column('customers', sa.Column('y', sa.Integer(), nullable=False, server_default='0'))\n"
        "    op.alter_column('customers', 'name', new_column_name='full_name')\n"
        "    op.create_index('ix', 'customers', ['name'])\n"
    )
    calls = [n for n in ast.walk(sample) if isinstance(n, ast.Call)]
    said = [why for call in calls if (why := _breaking(call))]
    assert said == [
        "drop_column",
        "add_column NOT NULL without a server default (the older release inserts without it)",
        "alter_column renames",
    ]

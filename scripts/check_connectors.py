"""Check that every connector has the one shape (STYLE §1, ARCHITECTURE §2), the way Home
Assistant's hassfest checks its integrations. Run by ``make lint``; exits 1 and names
each violation.

    python scripts/check_connectors.py [ROOT]

What a connector is: a package listed in ``connectors/registry.py`` (no discovery). Each
one must

- define ``SPEC`` in its ``spec.py``, a ``ConnectorSpec(name=...)`` named like its folder;
- keep its ``__init__.py`` free of imports, so that ``hub.settings`` can compose the
  connector's pure ``settings.py`` without loading the connector;
- have a ``payloads.py`` that is pure (except chat: its inbound side is the hub's widget
  service, which parses the widget's frames in ``hub/widget/frames.py``): neither it nor a
  module of its own package that it imports (directly or not) imports a network,
  database, queue or web module, or defines an ``async def``;
- keep its ``settings.py`` (if any; libraries' too) pydantic only;
- import no other connector (only ``connectors.base`` and the libraries under
  ``connectors.lib``), and nothing of ``hub.web``, ``hub.store``, the app's wiring or
  the tables.

A folder under ``connectors/`` that is neither listed nor ``lib`` is an error (a
connector nobody wires), and a library under ``connectors/lib`` imports no connector.
The check reads the source (``ast``); it imports nothing, so it runs without the
dependencies installed.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

SHARED = ("connectors.base", "connectors.lib")  # what every connector may import of connectors/
# connectors whose inbound edge the hub serves: no provider data of their own to parse
HUB_SERVED = {"chat": "its visitors' frames are parsed by the hub's widget service (hub/widget/frames.py)"}
# all a settings.py may import: hub.settings composes it, so it must load without the connector
SETTINGS_IMPORTS = ("__future__", "re", "typing", "pathlib", "pydantic", "hub.settings_section")
# never in a connector: the web layer, the tables, the wiring (ARCHITECTURE §2, layer 5)
FORBIDDEN = ("hub.web", "hub.store", "hub.app", "hub.wiring", "hub.cli", "hub.keys", "sqlalchemy", "alembic")
# never in a connector's payloads.py (nor in what it imports of its own package): I/O
IO_MODULES = (
    *FORBIDDEN,
    "hub.queue",
    "hub.realtime",
    "aiohttp",
    "asyncio",
    "aioimaplib",
    "aiosmtplib",
    "redis",
    "httpx",
    "requests",
    "twilio.rest",
    "socket",
    "ssl",
    "subprocess",
    "urllib.request",
    "http.client",
)


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _imports(tree: ast.Module, package: str) -> list[tuple[str, int]]:
    """(module, line) of every import in the file, relative ones made absolute against
    ``package`` (the file's own package), ``TYPE_CHECKING`` blocks included: a type
    import is still a dependency."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((base, node.lineno))
            # ``from connectors.email import payloads`` names a module too
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


class Checker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self._trees: dict[Path, ast.Module] = {}

    def tree(self, path: Path) -> ast.Module:
        if path not in self._trees:
            self._trees[path] = ast.parse(path.read_text(encoding="utf-8"), str(path))
        return self._trees[path]

    def fail(self, path: Path, line: int, text: str) -> None:
        problem = Problem(path.relative_to(self.root), line, text)
        # ``from m import a, b`` is checked as m, m.a and m.b: one problem per line is enough
        if not any(p.path == problem.path and p.line == line for p in self.problems):
            self.problems.append(problem)

    def listed(self) -> list[str]:
        """The connector packages ``connectors/registry.py`` imports a SPEC from."""
        index = self.root / "connectors" / "registry.py"
        names = []
        for node in self.tree(index).body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("connectors.")
                and any(alias.name == "SPEC" for alias in node.names)
            ):
                names.append(node.module.removeprefix("connectors.").removesuffix(".spec"))
        if not names:
            self.fail(
                index, 1, "lists no connector (expected `from connectors.<name>.spec import SPEC as ...`)"
            )
        return names

    def module_file(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def check_connector(self, name: str) -> None:
        folder = self.root / "connectors" / name
        init = folder / "__init__.py"
        if not init.is_file():
            self.fail(self.root / "connectors" / "registry.py", 1, f"lists {name}, which has no package")
            return
        if any(isinstance(node, ast.Import | ast.ImportFrom) for node in self.tree(init).body):
            self.fail(init, 1, f"connector {name}'s __init__.py imports: its settings must load alone")
        self.check_spec(name, folder / "spec.py")
        payloads = folder / "payloads.py"
        if payloads.is_file():
            self.check_pure(name, payloads)
        elif name not in HUB_SERVED:
            self.fail(init, 1, f"connector {name} has no payloads.py (provider data -> typed values, pure)")
        for path in sorted(folder.rglob("*.py")):
            self.check_imports(name, path)

    def check_spec(self, name: str, init: Path) -> None:
        if not init.is_file():
            self.fail(init.parent / "__init__.py", 1, f"connector {name} has no spec.py")
            return
        for node in self.tree(init).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "SPEC" for t in node.targets
            ):
                call = node.value
                if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "ConnectorSpec"):
                    self.fail(init, node.lineno, "SPEC must be a ConnectorSpec(...)")
                    return
                spec_name = next((k.value for k in call.keywords if k.arg == "name"), None)
                if not (isinstance(spec_name, ast.Constant) and spec_name.value == name):
                    self.fail(init, node.lineno, f'SPEC name must be "{name}", the folder\'s name')
                return
        self.fail(init, 1, f"connector {name} defines no SPEC in its spec.py")

    def check_imports(self, name: str, path: Path) -> None:
        package = "connectors." + name
        own = ".".join(path.relative_to(self.root).with_suffix("").parts)
        for module, line in _imports(self.tree(path), own.rsplit(".", 1)[0]):
            if _under(module, FORBIDDEN):
                self.fail(path, line, f"imports {module}: a connector never touches the web layer or tables")
            elif module.startswith("connectors.") and not _under(module, (package, *SHARED)):
                self.fail(path, line, f"imports {module}: a connector never imports another connector")

    def check_pure(self, name: str, payloads: Path) -> None:
        """payloads.py and every module of its own package it reaches: no I/O imports."""
        package = "connectors." + name
        seen: set[Path] = set()
        todo = [(payloads, "payloads.py")]
        while todo:
            path, via = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            tree = self.tree(path)
            own = ".".join(path.relative_to(self.root).with_suffix("").parts)
            for node in ast.walk(tree):
                if isinstance(node, ast.AsyncFunctionDef):
                    self.fail(path, node.lineno, f"async def {node.name} in {via}: payloads are pure")
            for module, line in _imports(tree, own.rsplit(".", 1)[0]):
                if _under(module, IO_MODULES):
                    self.fail(path, line, f"imports {module}, I/O, in {via}: payloads are pure")
                elif _under(module, (package,)) and (found := self.module_file(module)) is not None:
                    todo.append((found, f"{via} -> {found.name}"))

    def check_settings(self) -> None:
        """Every settings.py under connectors/ (connectors' and libraries'): pydantic only."""
        for path in sorted((self.root / "connectors").rglob("settings.py")):
            own = ".".join(path.relative_to(self.root).with_suffix("").parts)
            for module, line in _imports(self.tree(path), own.rsplit(".", 1)[0]):
                if not _under(module, SETTINGS_IMPORTS):
                    self.fail(path, line, f"imports {module}: a settings module is pure (pydantic only)")

    def check_libraries(self) -> None:
        for path in sorted((self.root / "connectors" / "lib").rglob("*.py")):
            own = ".".join(path.relative_to(self.root).with_suffix("").parts)
            for module, line in _imports(self.tree(path), own.rsplit(".", 1)[0]):
                if module.startswith("connectors.") and not _under(module, SHARED):
                    self.fail(path, line, f"imports {module}: a library never imports a connector")
                elif _under(module, FORBIDDEN):
                    self.fail(
                        path, line, f"imports {module}: a library never touches the web layer or tables"
                    )

    def check_unlisted(self, listed: list[str]) -> None:
        for folder in sorted((self.root / "connectors").iterdir()):
            if (folder / "__init__.py").is_file() and folder.name not in (*listed, "lib"):
                self.fail(folder / "__init__.py", 1, f"{folder.name} is not listed in connectors/registry.py")

    def run(self) -> list[Problem]:
        listed = self.listed()
        for name in listed:
            self.check_connector(name)
        self.check_libraries()
        self.check_settings()
        self.check_unlisted(listed)
        return self.problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    problems = Checker(root).run()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} connector shape problem(s); see STYLE.md §1 and scripts/check_connectors.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Admin-written expressions (tier conditions, routing rules), compiled with rule-engine.

Pure. An invalid expression raises ConfigError naming where it stands and the position.

Their regular expressions (``=~``, ``=~~``, ``!~``, ``!~~``) run on RE2, which matches
in time linear in the text, and never on Python's backtracking ``re``: there
``subject =~ "(a+)+$"`` against 28 characters held the event loop for 10 s, and rules
are evaluated on the loop for every customer's subject (and once while compiling, when
both sides are literals). rule-engine has no setting for its regex engine, so the
``re`` its regex comparisons compile with is replaced, once, by ``_LinearRe`` (rule-engine
is pinned below 6). A pattern RE2 does not take (backreferences, lookaround, more than
1000 repetitions) is refused when the rule is saved, simulated or validated; so is a
pattern that is not a literal string, since one taken from a customer's data could be
anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2  # type: ignore[import-untyped]
import rule_engine
from rule_engine.ast import ASTNodeBase, FuzzyComparisonExpression, StringExpression
from rule_engine.ast.binary import comparison as _comparison

from hub.errors import ConfigError

_RE2 = re2.Options()
_RE2.log_errors = False  # a refused pattern is the admin's to fix, not a log line


class _LinearRe:
    """What rule-engine's regex comparisons see as the ``re`` module: RE2 behind the
    same ``compile``, ``error`` and pattern ``match``/``search``/``groups``."""

    error = re2.error

    @staticmethod
    def compile(pattern: str, flags: int = 0) -> Any:
        if flags:  # no context of ours sets regex_flags
            raise re2.error(b"regex flags are not supported")
        return re2.compile(pattern, options=_RE2)


_comparison.re = _LinearRe


def compile_expression(
    text: str, context: rule_engine.Context, where: str, field: str | None = None
) -> rule_engine.Rule:
    """Compile; raise ConfigError with ``field`` and, for a syntax error, its position."""
    try:
        rule = rule_engine.Rule(text, context=context)
    except rule_engine.errors.RegexSyntaxError as exc:
        raise ConfigError(
            f"{where}: the pattern {exc.value!r} is refused ({_reason(exc.error)}): patterns use "
            "RE2 syntax, which matches in linear time; backreferences, lookaround and more than "
            f"1000 repetitions are not available: {text!r}",
            field=field,
        ) from exc
    except rule_engine.errors.RuleSyntaxError as exc:
        token = getattr(exc, "token", None)
        pos = getattr(token, "lexpos", None)
        if pos is None and token is None:
            pos = len(text)  # the text ended too early: the error is at its end
        at = f" at position {pos}" if pos is not None else ""
        raise ConfigError(f"{where}: {exc.message}{at}: {text!r}", field=field, position=pos) from exc
    except rule_engine.errors.EngineError as exc:
        raise ConfigError(f"{where}: {exc.message}: {text!r}", field=field) from exc
    for node in nodes(rule.statement):
        if isinstance(node, FuzzyComparisonExpression) and not isinstance(node.right, StringExpression):
            raise ConfigError(
                f"{where}: the pattern right of a regex operator must be a literal string: {text!r}",
                field=field,
            )
    return rule


def _reason(error: BaseException | None) -> str:
    arg = error.args[0] if error is not None and error.args else error
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def nodes(root: object) -> Iterator[object]:
    """Every AST node under ``root`` (rule-engine keeps them in slots, attributes, and
    the tuples of literal arrays and mappings)."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, tuple | list):
            stack.extend(node)
            continue
        if not isinstance(node, ASTNodeBase):
            continue
        yield node
        names = set(getattr(node, "__dict__", {}))
        for cls in type(node).__mro__:
            slots = getattr(cls, "__slots__", ())
            names.update([slots] if isinstance(slots, str) else slots)
        stack.extend(getattr(node, n, None) for n in names if n != "context")

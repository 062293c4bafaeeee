"""Admin-written expressions (tier conditions, routing rules), compiled with rule-engine.

Pure. An invalid expression raises ConfigError naming where it stands and the position.
"""

from __future__ import annotations

import rule_engine

from hub.errors import ConfigError


def compile_expression(
    text: str, context: rule_engine.Context, where: str, field: str | None = None
) -> rule_engine.Rule:
    """Compile; raise ConfigError with ``field`` and, for a syntax error, its position."""
    try:
        return rule_engine.Rule(text, context=context)
    except rule_engine.errors.RuleSyntaxError as exc:
        token = getattr(exc, "token", None)
        pos = getattr(token, "lexpos", None)
        if pos is None and token is None:
            pos = len(text)  # the text ended too early: the error is at its end
        at = f" at position {pos}" if pos is not None else ""
        raise ConfigError(f"{where}: {exc.message}{at}: {text!r}", field=field, position=pos) from exc
    except rule_engine.errors.EngineError as exc:
        raise ConfigError(f"{where}: {exc.message}: {text!r}", field=field) from exc

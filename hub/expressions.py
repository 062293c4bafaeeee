"""Admin-written expressions (tier conditions, routing rules), compiled with rule-engine.

Pure. An invalid expression raises ConfigError naming where it stands and the position.
"""

from __future__ import annotations

import rule_engine

from hub.errors import ConfigError


def compile_expression(text: str, context: rule_engine.Context, where: str) -> rule_engine.Rule:
    try:
        return rule_engine.Rule(text, context=context)
    except rule_engine.errors.RuleSyntaxError as exc:
        pos = getattr(exc.token, "lexpos", None)
        at = f" at position {pos}" if pos is not None else ""
        raise ConfigError(f"{where}: {exc.message}{at}: {text!r}") from exc
    except rule_engine.errors.EngineError as exc:
        raise ConfigError(f"{where}: {exc.message}: {text!r}") from exc

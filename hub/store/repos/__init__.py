"""Repositories: the store's answers, one module per aggregate (STYLE §11).

A repository is a set of async functions that take the caller's ``AsyncConnection`` (so a
change, its audit event and what the handler reads back commit in one transaction) and
return frozen records and enums: those of ``hub.model`` where the model declares the
thing, else a record declared next to its queries. Never a row, never a bare dict.

Records are ``dataclasses(frozen=True, slots=True)`` rather than msgspec structs: the
model is declared that way already, mypy understands them without a plugin, orjson
serialises them (and their StrEnums) natively, and no new dependency is needed; the
handlers shape the JSON themselves, so msgspec's fast encoder would buy nothing here.

What a caller may see is not decided here: a repository takes the visibility rule's
clause (``hub.auth.visibility.Scope``) as an argument and applies it.
"""

"""The contact policy in force (``hub.outreach.policy``), versioned like the routing rules."""

from __future__ import annotations

import logging

from hub.errors import ConfigError
from hub.outreach.policy import DEFAULT_POLICY, Policy, parse_policy
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import contact_policy
from hub.versioned_config import InvalidRules, VersionedConfig

log = logging.getLogger("contacthub.outreach")


class ContactPolicyConfig(VersionedConfig[Policy]):
    def __init__(self, store: Store) -> None:
        super().__init__(ConfigVersions(store, contact_policy), "contact policy", log, DEFAULT_POLICY)
        self.policy = parse_policy(DEFAULT_POLICY)

    def check(self, text: str) -> Policy:
        try:
            return parse_policy(text)
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

    def adopt(self, value: Policy) -> None:
        self.policy = value

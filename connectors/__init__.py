"""Every connector, listed explicitly (no import-time discovery)."""

from connectors.api import SPEC as API
from connectors.base import ConnectorSpec

CONNECTORS: tuple[ConnectorSpec, ...] = (API,)

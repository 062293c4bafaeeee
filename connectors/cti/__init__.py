"""Generic CTI: any PBX reports calls to ``POST /webhooks/cti/{token}``."""

"""One package per channel. Each declares its SPEC in ``spec.py`` (``registry.py`` lists them)
and keeps its settings in a pure ``settings.py``. This file imports nothing, so that
``hub.settings`` can compose the connectors' settings without loading their I/O."""

"""Automations: rules that act on events (``rules``), run live (``runner``) and on stored
history (``dry_run``), with the same facts (``facts``) and actions (``act``)."""

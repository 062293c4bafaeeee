"""Reports: measures over the hub's stored events, kept as hourly rollups.

- ``bins``: the fixed histogram that makes medians and percentiles summable (pure);
- ``measures``: the catalogue of measures and what each stored event contributes (pure);
- ``buckets``: hours into the caller's buckets in a time zone, across DST (pure);
- ``series``: rollup rows into a report's rows and totals (pure);
- ``refresh``: the step that keeps the rollups current, and the rebuild;
- ``service``: a report asked for, answered from the rollups;
- ``live``: a report about some customers only (a segment, a KAM's accounts), computed
  from their events when asked;
- ``segment_figures``: a segment's figures (revenue, contacts, complaints, SLA, open).
"""

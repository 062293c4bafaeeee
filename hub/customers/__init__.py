"""The customer record: identities, resolution, and (later) tiers, timeline and privacy."""

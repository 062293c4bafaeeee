"""Pure helpers for text from outside (layer 1: no I/O, no store, imported by every layer
above): normalising sender addresses, SMS keywords, the words a customer search matches."""

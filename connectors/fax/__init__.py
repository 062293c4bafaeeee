"""Fax: gateway callbacks in (Phaxio, Sinch, generic signed, email-to-fax), each fax's
pages rendered and read (OCR) before it is stored and routed, replies out as PDF through
the outbox, delivery reports back."""

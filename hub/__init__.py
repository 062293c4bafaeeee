"""ContactHub: one place for every channel a customer uses."""

"""Agent authentication: passwords (argon2) and server-side sessions."""

"""Lambda entry points and their wiring."""

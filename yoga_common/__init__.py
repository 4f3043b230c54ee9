"""What every yoga service shares: bootstrap, settings, auth, errors, database, events."""

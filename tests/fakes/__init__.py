"""In-memory fakes for unit tests. `tests/contract/` runs the same tests against each fake and
the real thing (the stores on SQLite and PostgreSQL, the seat client against yogaclass_svc), so
a fake that drifts from what it stands in for fails there."""

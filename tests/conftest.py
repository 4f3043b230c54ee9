"""Shared by every test: nothing here starts a server (see integration/conftest.py)."""

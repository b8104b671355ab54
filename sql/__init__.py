"""The SQL of Steward, shipped as package data of `service.sql` (pyproject.toml maps that package here).

migrations/: numbered, applied once, never edited. views/: repeatable, rebuilt when a file changes.
service/migrate.py reads them with importlib.resources, so a checkout and an installed wheel behave alike.
"""

"""The SQLite store: the only package that knows table names, keys, views and SQL.

- :mod:`.schema`: numbered migrations (``NNNN_name.sql`` files, ``PRAGMA user_version``) and the views;
- :mod:`.writer`: batched, idempotent writes (runs, results, checks, imports, the check queue, and
  what the after-run steps derive);
- :mod:`.queries`: named read queries, one per question the rest of linkrot asks;
- :mod:`.seen`: the seen-set of a big crawl, URL hashes in a scratch file beside the database.

:class:`Store` is both halves over one connection.  Nothing outside this package
writes SQL (tests/test_store.py greps for it): a new question is a new method here.
"""

from __future__ import annotations

from .base import DEFAULT_DB, check_database, schema_version, utcnow
from .queries import Queries
from .seen import DiskSeen
from .writer import Writer

__all__ = ["DEFAULT_DB", "DiskSeen", "Store", "check_database", "schema_version", "utcnow"]


class Store(Writer, Queries):
    """A linkrot database: open (creating and migrating it), write in batches, ask named questions."""

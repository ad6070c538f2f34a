"""Exceptions named for the condition; only the command line turns them into messages."""

from __future__ import annotations


class LinkrotError(Exception):
    """Base class: linkrot could not run (a broken link is never an exception)."""


class ConfigError(LinkrotError):
    """A setting or spider argument has a value linkrot cannot use."""


class ImportFileError(LinkrotError):
    """A backlink export cannot be imported as a whole (unreadable, unknown header, no usable row)."""


class RunLockedError(LinkrotError):
    """Another run of the same spider is still writing to the database."""


class NothingToCheckError(LinkrotError):
    """A run was asked for with nothing to do (no backlinks imported, none in the database)."""


class NotALinkrotDatabaseError(LinkrotError):
    """A file given as the database is not one linkrot wrote (or not SQLite at all)."""


class WrongExportError(ImportFileError):
    """The file is a vendor report that lists no backlinks (referring domains, top linking sites,
    internal links): the message names the export to download instead."""


class RenderCrashed(LinkrotError):
    """Chromium went away (crashed, or hung and was closed) twice while one page was rendered."""

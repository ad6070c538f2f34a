"""Exceptions named for the condition; only the command line turns them into messages."""

from __future__ import annotations


class LinkrotError(Exception):
    """Base class: linkrot could not run (a broken link is never an exception)."""


class ConfigError(LinkrotError):
    """A setting or spider argument has a value linkrot cannot use."""


class ImportFileError(LinkrotError):
    """A backlink export cannot be imported as a whole (unreadable, unknown header, no usable row)."""


class RenderCrashed(LinkrotError):
    """Chromium went away (crashed, or hung and was closed) twice while one page was rendered."""

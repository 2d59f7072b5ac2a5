"""Error hierarchy of genoapp.

Every error raised on bad user input is an :class:`InputDataError` (a file or table is not what
it should be) or a :class:`ConfigError` (a parameter is out of its allowed range). Messages name
the file or parameter, what was found, what is allowed, and the next step. The app shows these as
readable errors; any other exception is a bug and is shown with its log.
"""


class GenoappError(Exception):
    """Base class of all errors that genoapp raises on purpose."""


class InputDataError(GenoappError, ValueError):
    """An input file or table is missing, malformed or inconsistent with the others."""


class ConfigError(GenoappError, ValueError):
    """A configuration value is outside its allowed range or inconsistent with the data."""


class StorageError(GenoappError, OSError):
    """Results could not be written: disk full, read-only or not writable folder.

    The message says what was being written, where, why, and how much space is free; the app
    keeps the results in memory so the user can retry.
    """

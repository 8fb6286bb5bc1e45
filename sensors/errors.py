"""Typed errors for bad input. Each names the file, line or field and what was expected.

The CLI turns them into one line on stderr and a ``sysexits``-style exit code; no traceback.
"""

from __future__ import annotations

import os

#: Exit codes (BSD sysexits.h, as many CLI tools use them).
EX_USAGE = 2  # argparse's own code for a malformed command line
EX_DATAERR = 65  # input data was incorrect in some way
EX_NOINPUT = 66  # an input file did not exist or was not readable
EX_UNAVAILABLE = 69  # a service/device is unavailable (no sound card, no Bluetooth)
EX_SOFTWARE = 70  # internal error
EX_CANTCREAT = 73  # an output file cannot be created
EX_IOERR = 74  # an error occurred while doing I/O (e.g. disk full)


class CoregulateError(Exception):
    """Base class of the errors the CLI reports as one clear line."""

    exit_code = EX_SOFTWARE


class InputError(CoregulateError):
    """A recording, manifest or option that cannot be read as what it claims to be.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    path : str or os.PathLike, optional
        The file concerned.
    line : int, optional
        1-based line (or row/record) number.
    field : str, optional
        The column, channel or option concerned.
    expected : str, optional
        What was expected instead.
    """

    exit_code = EX_DATAERR

    def __init__(self, message, *, path=None, line=None, field=None, expected=None):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.field = field
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        fld = f"{self.field}: " if self.field else ""
        exp = f" (expected {self.expected})" if self.expected else ""
        return f"{where}{fld}{self.message}{exp}"


class UsageError(CoregulateError):
    """A malformed command line (bad SPEC syntax, an option out of range, options that exclude
    each other). The CLI reports it as argparse does (usage line, then ``prog: error: ...``)."""

    exit_code = EX_USAGE


class MissingInputError(InputError):
    """An input file or folder does not exist or cannot be opened."""

    exit_code = EX_NOINPUT


class DeviceUnavailableError(CoregulateError):
    """A live device (sound card, Bluetooth adapter, LSL stream) cannot be reached."""

    exit_code = EX_UNAVAILABLE


class OutputError(CoregulateError):
    """An output (session file, export folder) cannot be written."""

    exit_code = EX_CANTCREAT


class RecordingIOError(CoregulateError):
    """Writing the session failed part-way (e.g. disk full); what was committed is intact."""

    exit_code = EX_IOERR

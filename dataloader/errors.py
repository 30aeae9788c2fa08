"""Errors raised while reading benchmark data.

Every problem with a data file surfaces as one class, `DataError`, whose message names the file,
the line and the field, so a user can fix the file without reading a traceback.
"""

from __future__ import annotations


class DataError(ValueError):
    """A data file, or a record in it, that cannot be turned into samples."""


class RecordError(DataError):
    """One raw or normalized record is missing a field or has a wrong one.

    Mappers raise it without knowing where the record came from; the reader adds the file and
    line (or the hub row) by calling `located`.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field
        self.problem = problem

    def located(self, where: str) -> DataError:
        return DataError(f"{where}, field {self.field!r}: {self.problem}")


class UnknownBenchmarkError(DataError, KeyError):
    """An unknown benchmark name; the message lists the valid names.

    It is a `KeyError` for registry lookups and a `DataError` so the CLIs report it like bad data.
    """

    def __str__(self) -> str:
        # KeyError would show the message quoted; a plain message reads better.
        return str(self.args[0])


class GatedDatasetError(DataError):
    """The hub refused a gated dataset because the user has not accepted its terms or logged in."""


class SourceUnavailableError(DataError):
    """The data source could not be reached or does not exist."""

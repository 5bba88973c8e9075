"""Reading user files (JSON, YAML, CSV) with one-line errors that name the file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from pmargin.errors import InputError

__all__ = ["read_csv_rows", "read_structured"]

_YAML_SUFFIXES = {".yaml", ".yml"}


def read_structured(path: str | Path, what: str) -> Any:
    """Load a JSON or YAML document (chosen by the file suffix; JSON otherwise).

    Parameters
    ----------
    path
        File to read.
    what
        What the file is, for error messages (``"market file"``).

    Raises
    ------
    InputError
        If the file is missing, unreadable, or not valid JSON/YAML (with line and column).
    """
    file = Path(path)
    text = _read_text(file, what)
    if file.suffix.lower() in _YAML_SUFFIXES:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise InputError(what, str(file), f"is not valid YAML{where}: {problem}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            what,
            str(file),
            f"is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ) from None


def read_csv_rows(path: str | Path, what: str) -> list[dict[str, str]]:
    """Read a CSV file with a header row into a list of dicts (empty cells are ``""``)."""
    file = Path(path)
    text = _read_text(file, what)
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise InputError(what, str(file), "is empty; expected a CSV header row")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _read_text(file: Path, what: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(what, str(file), "does not exist") from None
    except IsADirectoryError:
        raise InputError(what, str(file), "is a directory, expected a file") from None
    except UnicodeDecodeError:
        raise InputError(what, str(file), "is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(what, str(file), f"cannot be read: {exc.strerror}") from None

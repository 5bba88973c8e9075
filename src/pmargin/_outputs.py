"""Outputs that are whole and finite: report folders written whole or not at all, and JSON.

A report folder is written into a hidden temporary sibling (``.NAME.partial-XXXX`` in the
same parent, so on the same file system) and renamed into place only once every file is
complete. A run killed or failing mid-write therefore never leaves a truncated ``series.csv``
or a folder mixing two runs under the target name; at worst a hidden ``.partial`` sibling.

An existing target is replaced only when it is empty or holds nothing but files the report
itself writes (its ``names``): a folder pmargin did not write (a home directory given by
mistake, a folder with a subfolder or a file of the user's) is never deleted, with or without
``--force``.

A single output file (``pmargin margin --out FILE``) follows the same rules:
:func:`check_output_file` refuses a bad target before anything is computed (an existing
file without ``--force``, a folder, an unknown extension, a missing parent), and
:func:`output_file` writes a hidden temporary sibling renamed over the target once complete.

:func:`check_output_folder` runs the same checks before a command computes anything, so that
a bad ``--out`` fails in a second rather than after the whole run. :func:`finite_json` writes
JSON that never holds NaN or infinity, naming where one would have been.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pmargin.errors import InputError

__all__ = [
    "check_output_file",
    "check_output_folder",
    "finite_json",
    "output_file",
    "output_folder",
]


def _first_non_finite(node: object, path: str) -> tuple[str, float] | None:
    """Dotted path and value of the first NaN or infinite float in a JSON-ready tree."""
    if isinstance(node, float):
        return None if math.isfinite(node) else (path, node)
    if isinstance(node, Mapping):
        for key, value in node.items():
            found = _first_non_finite(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
        return None
    if isinstance(node, Sequence) and not isinstance(node, str | bytes):
        for k, value in enumerate(node):
            name = value.get("id") if isinstance(value, Mapping) else None
            index = f"id={name}" if isinstance(name, str) else str(k)
            found = _first_non_finite(value, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def finite_json(payload: object, **dumps: Any) -> str:
    """Return ``json.dumps(payload, allow_nan=False, **dumps)``, or name its first NaN or inf.

    Raises
    ------
    InputError
        A NaN or infinite float in ``payload``, naming its path (a list entry with a string
        ``id`` by that id: ``accounts[id=a1].equity``). JSON has no such numbers, and they only
        come from inputs out of any sensible range.
    """
    try:
        return json.dumps(payload, allow_nan=False, **dumps)
    except ValueError as exc:
        found = _first_non_finite(payload, "")
        if found is None:  # not a float the walk can see (a ``default`` conversion, a cycle)
            raise InputError("json", type(payload).__name__, f"cannot be written: {exc}") from None
        path, value = found
        reason = "is not a finite number: an input (price, balance, quantity) is out of range"
        raise InputError(path, value, reason) from None


def _foreign(folder: Path, names: Collection[str]) -> str | None:
    """Name of the first entry of ``folder`` that is not a report file in ``names``."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return f"(unreadable: {exc.strerror})"
    for entry in entries:
        if entry.name not in names or entry.is_symlink() or not entry.is_file():
            return entry.name
    return None


def check_output_folder(
    path: str | Path, *, force: bool, names: Collection[str], field: str = "out"
) -> Path:
    """Check that ``path`` can receive a report folder, before anything is computed.

    Parameters
    ----------
    path
        The target folder.
    force
        Whether an existing non-empty report folder may be replaced.
    names
        The files the report writes: a folder holding anything else is never replaced.
    field
        Name of the option in error messages (``"--out"``).

    Returns
    -------
    Path
        ``path`` made absolute.

    Raises
    ------
    InputError
        Naming ``field``: the target is a file; it is a non-empty folder and ``force`` is
        false; it is a non-empty folder pmargin did not write; its parent folder does not
        exist, is not a folder or is not writable.
    """
    target = Path(path).expanduser().absolute()
    if not target.name or target.name in (".", ".."):
        raise InputError(field, str(path), "must name a folder (not '.', '..' or a root)")
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise InputError(field, str(path), "exists and is not a folder")
        foreign = _foreign(target, names)
        if foreign is not None:
            raise InputError(
                field,
                str(path),
                f"holds {foreign!r}, which this report does not write: choose a new folder "
                "(pmargin replaces only a folder of its own report files)",
            )
        if not force and any(target.iterdir()):
            raise InputError(field, str(path), "already holds a report; pass --force to replace it")
    _check_parent(target, path, field)
    return target


def _check_parent(target: Path, path: str | Path, field: str) -> None:
    """Refuse a target whose parent folder is missing, not a folder or not writable."""
    parent = target.parent
    if not parent.is_dir():
        raise InputError(field, str(path), f"cannot be created: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(field, str(path), f"cannot be created: {parent} is not writable")


@contextmanager
def output_folder(
    path: str | Path, *, names: Collection[str], field: str = "out"
) -> Iterator[Path]:
    """Yield a temporary folder; when the block ends without error, it becomes ``path``.

    The target is replaced when it exists (it must be empty or hold only files in ``names``,
    see :func:`check_output_folder` with ``force=True``); the old one is renamed aside first
    and removed only after the new one is in place. When the block raises, the temporary
    folder is removed and the target is left as it was.

    Raises
    ------
    InputError
        The target cannot receive the folder (see :func:`check_output_folder`), or the file
        system refuses a write or rename (naming ``field`` and the OS's reason).
    """
    target = check_output_folder(path, force=True, names=names, field=field)
    parent = target.parent
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))
    except OSError as exc:
        raise InputError(field, str(path), f"cannot be written ({exc.strerror})") from None
    try:
        yield work
        _replace(work, target)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise InputError(field, str(path), f"cannot be written ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _replace(work: Path, target: Path) -> None:
    """Rename ``work`` to ``target``, moving an existing ``target`` aside and removing it."""
    if not target.exists():
        os.rename(work, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / target.name)
    try:
        os.rename(work, target)
    except OSError:
        os.rename(old / target.name, target)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_output_file(
    path: str | Path, *, force: bool, suffixes: Sequence[str], field: str = "--out"
) -> Path:
    """Check that ``path`` can receive an output file, before anything is computed.

    Parameters
    ----------
    path
        The target file; its extension (any case) must be one of ``suffixes``.
    force
        Whether an existing file may be replaced.
    suffixes
        The extensions the command writes (``(".csv", ".parquet")``).
    field
        Name of the option in error messages.

    Returns
    -------
    Path
        ``path`` made absolute.

    Raises
    ------
    InputError
        Naming ``field``: an unknown extension; the target exists and is not a file, or is a
        file and ``force`` is false; its parent folder does not exist or is not writable.
    """
    target = Path(path).expanduser().absolute()
    if target.suffix.lower() not in suffixes:
        raise InputError(field, str(path), f"has an unknown extension; use {', '.join(suffixes)}")
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not target.is_file():
            raise InputError(field, str(path), "exists and is not a file")
        if not force:
            raise InputError(field, str(path), "already exists; pass --force to replace it")
    _check_parent(target, path, field)
    return target


@contextmanager
def output_file(
    path: str | Path, *, force: bool, suffixes: Sequence[str], field: str = "--out"
) -> Iterator[Path]:
    """Yield a temporary file path; when the block ends without error, it becomes ``path``.

    The temporary file is a hidden sibling (same folder, so the rename is atomic); when the
    block raises, it is removed and the target is left as it was.

    Raises
    ------
    InputError
        The target cannot receive the file (:func:`check_output_file`), or the file system
        refuses the write or rename (naming ``field`` and the OS's reason).
    """
    target = check_output_file(path, force=force, suffixes=suffixes, field=field)
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.partial-", suffix=target.suffix, dir=target.parent
        )
        os.close(handle)
    except OSError as exc:
        raise InputError(field, str(path), f"cannot be written ({exc.strerror})") from None
    work = Path(name)
    try:
        yield work
        os.replace(work, target)
    except OSError as exc:
        work.unlink(missing_ok=True)
        raise InputError(field, str(path), f"cannot be written ({exc.strerror})") from None
    except BaseException:
        work.unlink(missing_ok=True)
        raise

"""Report folders (``backtest``, ``simulate``): checked before computing, written whole or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import pmargin.backtest._report as backtest_report
import pmargin.simulate._report as simulate_report
from pmargin._outputs import check_output_folder, output_folder
from pmargin.cli.main import app
from pmargin.errors import InputError

runner = CliRunner()
NAMES = frozenset({"results.json", "series.csv", "old_only.csv"})


class CrashError(Exception):
    """Stands for a kill or a failure in the middle of writing a report."""


def _write_then_crash(target: Path, files: dict[str, str]) -> None:
    with output_folder(target, names=NAMES) as work:
        for name, text in files.items():
            (work / name).write_text(text)
        raise CrashError


def _siblings(folder: Path) -> set[str]:
    return {p.name for p in folder.parent.iterdir()}


def test_a_complete_folder_appears_with_its_marker(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with output_folder(target, names=NAMES) as work:
        assert work.parent == tmp_path
        assert work.name.startswith(".out.partial-")
        (work / "series.csv").write_text("a\n1\n")
        assert not target.exists()  # nothing under the target name until complete
    assert (target / "series.csv").read_text() == "a\n1\n"
    assert _siblings(target) == {"out"}


def test_a_crash_mid_write_leaves_no_target_and_no_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(CrashError):
        _write_then_crash(target, {"series.csv": "a\n1\n"})
    assert _siblings(target) == set()


def test_a_crash_while_replacing_keeps_the_previous_report_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with output_folder(target, names=NAMES) as work:
        (work / "results.json").write_text("{}")
        (work / "old_only.csv").write_text("x")
    with pytest.raises(CrashError):
        _write_then_crash(target, {"results.json": '{"run": 2}'})
    assert {p.name for p in target.iterdir()} == {"results.json", "old_only.csv"}
    assert (target / "results.json").read_text() == "{}"
    with output_folder(
        target, names=NAMES
    ) as work:  # a complete second run replaces the folder whole
        (work / "results.json").write_text('{"run": 2}')
    assert {p.name for p in target.iterdir()} == {"results.json"}
    assert _siblings(target) == {"out"}


def test_checks_before_computing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "thesis.tex").write_text("x")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "series.csv").write_text("")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "series.csv").mkdir()
    (tmp_path / "empty").mkdir()
    cases = {
        "file": "exists and is not a folder",
        "theirs": "holds 'thesis.tex', which this report does not write",
        "nested": "holds 'series.csv'",
        "ours": "pass --force",
        "missing/out": "is not a folder",
    }
    for name, reason in cases.items():
        with pytest.raises(InputError, match=reason):
            check_output_folder(tmp_path / name, force=False, names=NAMES, field="--out")
    with pytest.raises(InputError, match=r"thesis\.tex"):  # never deleted, even forced
        check_output_folder(tmp_path / "theirs", force=True, names=NAMES)
    for name, force in (("ours", True), ("empty", False), ("new", False)):
        assert check_output_folder(tmp_path / name, force=force, names=NAMES) == tmp_path / name


@pytest.mark.parametrize("module", [simulate_report, backtest_report])
def test_report_writers_leave_nothing_when_they_fail(
    tmp_path: Path, module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_crash(result: object, folder: Path, *args: object, **kwargs: object) -> None:
        (folder / "series.csv").write_text("time,loss\n2024-01-01,1.0\n")
        raise CrashError

    monkeypatch.setattr(module, "_write_files", half_then_crash)
    with pytest.raises(CrashError):
        module.write_report(object(), tmp_path / "out")  # type: ignore[attr-defined]
    assert list(tmp_path.iterdir()) == []


def test_simulate_refuses_a_bad_out_before_computing(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "results.json").write_text("{}")
    missing_data = str(tmp_path / "no-data")  # computing would fail on this instead
    for out, reason in (("taken", "not a folder"), ("done", "pass --force")):
        args = ["simulate", "--out", str(tmp_path / out), "--data", missing_data]
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.output.startswith("pmargin: error: --out:")
        assert reason in result.output
    args = ["simulate", "--out", str(tmp_path / "done"), "--force", "--data", missing_data]
    forced = runner.invoke(app, args)
    assert forced.exit_code == 2
    assert "--out" not in forced.output  # got past the check, failed on the data

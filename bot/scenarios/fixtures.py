"""A scenario file's fixtures as the files ``rapport import`` reads, and a key naming that data set.

Inline rows are written as JSON Lines with the same column names as the CSV files, so they go
through the importer's own checks; files are used as they are.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bot.customers.importer import FileReport
from bot.scenarios.model import LoadedFile, ScenarioFileError


def fixture_key(file: LoadedFile) -> str:
    """Equal for two scenario files whose fixtures are the same data: their snapshot is shared."""
    digest = hashlib.sha256()
    for path in sorted(file.fixture_paths()):
        digest.update(path.read_bytes())
    digest.update(json.dumps(file.content.fixtures.inline, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def fixture_files(file: LoadedFile, folder: Path) -> list[Path]:
    """The files to import for ``file``: its fixture files, and its inline rows written into ``folder``."""
    paths = file.fixture_paths()
    folder.mkdir(parents=True, exist_ok=True)
    for kind, rows in file.content.fixtures.inline.items():
        target = folder / f"inline-{kind}.jsonl"
        # YAML reads 2026-11-24 as a date and 1042 as a number; the importer wants the text of both.
        target.write_text("".join(json.dumps({k: _text(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                                  for row in rows), encoding="utf-8")
        paths.append(target)
    return paths


def check_imported(file: LoadedFile, reports: list[FileReport]) -> None:
    """Refuse fixtures the importer found bad rows in: scenarios on half their data would mislead."""
    problems = [str(problem) for report in reports for problem in report.problems]
    if problems:
        raise ScenarioFileError(f"{file.path}: fixtures have bad rows:\n  " + "\n  ".join(problems),
                                fix="fix those rows (inline rows use the column names of `rapport import` files)")


def _text(value: object) -> object:
    return value if isinstance(value, str) or value is None else str(value)

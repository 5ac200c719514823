"""gradscan as a flake8 plugin: `flake8 --select GS` reports what `gradscan` reports.

Registered under the entry point group `flake8.extension` with the prefix `GS` (see
pyproject.toml); flake8 stays an optional dependency: this module imports nothing from flake8
until flake8 calls it.

How the two tools divide the work:
- Selection is flake8's. The plugin runs every rule and flake8's `select`/`ignore`/
  `per-file-ignores` decide what is shown. Rules that are off by default in gradscan are added
  to flake8's *default* ignore list (`extend_default_ignore`), so plain `flake8` shows gradscan's
  default set and `--extend-select GS109` (or `--select GS`) turns one on, as in gradscan.
  (As always with flake8, a plain `ignore = ...` in its configuration replaces the default
  ignore list; use `extend-ignore` to keep gradscan's defaults.)
- `# noqa` is flake8's: the engine runs with its own noqa handling off and flake8 applies the
  comments (so `flake8 --disable-noqa` shows everything). `# gradscan: skip-file` is honoured
  here unless `--disable-noqa` is given.
- Rule options (`keras`, `forward-methods`, `torch-module-bases`, `keras-layer-bases`) come from
  `[tool.gradscan]` in the nearest pyproject.toml above the current folder, as for the command
  line; its selection keys are left to flake8. (flake8 keeps `--isolated` to itself: plugins
  never see it, so it does not apply to gradscan's table.) A broken table stops flake8 with
  gradscan's one-line message.
- Columns: flake8 adds 1 to the column a plugin yields, so the plugin yields gradscan's 1-based
  column minus one and both tools print the same position.
"""
from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple, Type

from gradscan import __version__


class GradscanChecker:
    name = "gradscan"
    version = __version__

    _settings = None  # gradscan Settings, set by parse_options
    _disable_noqa = False
    _indexes: Dict[Path, Any] = {}  # project root -> class index, built once per process

    def __init__(self, tree: ast.AST, lines: List[str], filename: str) -> None:
        # `tree` makes flake8 run this as an AST plugin (once per file); gradscan parses the
        # text itself with libcst, so only `lines` (what flake8 read, standard input included)
        # and `filename` are used.
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, parser) -> None:
        from gradscan.rules import all_rules

        parser.extend_default_ignore([r.code for r in all_rules() if not r.default_enabled])

    @classmethod
    def parse_options(cls, options) -> None:
        from gradscan.config import ConfigError, Settings, find_config, load_config

        cls._disable_noqa = bool(getattr(options, "disable_noqa", False))
        settings = Settings()
        try:
            path = find_config(Path.cwd())
            if path is not None:
                settings = load_config(path)
        except ConfigError as exc:
            from flake8.exceptions import ExecutionError

            raise ExecutionError(f"gradscan: {exc}") from None
        # flake8 selects and ignores; gradscan reports everything it finds.
        cls._settings = replace(settings, select=["ALL"], extend_select=[], ignore=[], extend_ignore=[],
                                per_file_ignores={}, selection_layers=())
        cls._indexes = {}

    def run(self) -> Iterator[Tuple[int, int, str, Type["GradscanChecker"]]]:
        from gradscan import noqa
        from gradscan.engine import check_source_file
        from gradscan.files import SourceFile

        text = "".join(self.lines)
        if not self._disable_noqa and noqa.skip_file(text):
            return
        settings = self._settings if self._settings is not None else _all_rules_settings()
        source = SourceFile(path=self.filename, text=text)
        try:
            findings = check_source_file(source, settings, project=self._project_index(settings), disable_noqa=True)
        except Exception as exc:  # a bug in gradscan: one finding for this file, flake8 goes on
            yield 1, 0, f"GS000 internal error while checking the file: {type(exc).__name__}: {exc}", type(self)
            return
        for f in findings:
            yield f.line, max(f.col - 1, 0), f"{f.code} {f.message}", type(self)

    def _project_index(self, settings):
        """The class index of the project the file belongs to, as the command line builds it
        (so a base class defined in another file is known here too)."""
        from gradscan.semantics.project import project_root

        target = Path(self.filename)
        if self.filename in ("-", "stdin") or not target.parent.exists():
            return None
        target = target.resolve()
        root = project_root(target) or target.parent
        if root not in self._indexes:
            from gradscan.runner import index_for

            try:
                self._indexes[root] = index_for([], [str(root)], settings)
            except OSError:
                self._indexes[root] = None
        return self._indexes[root]


def _all_rules_settings():
    from gradscan.config import Settings

    return Settings(select=["ALL"])


__all__ = ["GradscanChecker"]

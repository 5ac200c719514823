"""Settings: defaults, `[tool.gradscan]` in pyproject.toml, then the command line, in that order.

Rule selection follows ruff: `select` replaces the default set, `extend-select` adds to it,
`ignore`/`extend-ignore` remove, selectors match by prefix (`GS2`, `GS201`, `ALL`), and the more
specific selector wins (ignore wins a tie). A rule that is off by default runs only when a select
or extend-select entry names it (by code, prefix or ALL).

As in ruff, the command line is a second layer over the configuration file: a layer that has a
`select` starts afresh (the file's select, ignore and extend-select no longer count); a layer
without one adds and removes rules on top of what the layers before it chose.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "node_modules",
    "__pycache__", "site-packages", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".gradscan_cache",
    ".eggs", ".ipynb_checkpoints",
)


class ConfigError(Exception):
    """A bad configuration: reported in one line, exit status 2."""


@dataclass(frozen=True)
class Selection:
    """One layer of rule selection (the command line's, over the configuration file's)."""

    select: Optional[Tuple[str, ...]] = None
    extend_select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    extend_ignore: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    select: Optional[List[str]] = None  # None: the default rule set
    extend_select: List[str] = field(default_factory=list)
    ignore: List[str] = field(default_factory=list)
    extend_ignore: List[str] = field(default_factory=list)
    exclude: List[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: List[str] = field(default_factory=list)
    per_file_ignores: Dict[str, List[str]] = field(default_factory=dict)
    respect_gitignore: bool = True
    force_exclude: bool = False
    # "3" or "legacy" (tf_keras / TensorFlow <= 2.15) when configured; "" (the default): read
    # from what each project declares (`declared_keras`), else Keras 3.
    keras: str = ""
    # (project root, "3" or "legacy", where it was read) for each project of the run: filled by
    # the runner from requirements files, pyproject.toml, setup.py (gradscan.files.dependencies).
    declared_keras: Tuple[Tuple[str, str, str], ...] = ()
    # Seconds one file's analysis may take (or 20x its parse time, if longer) before it is cut
    # short and reported as GS002; 0: no limit. Not a cache input: cut-short results are not cached.
    file_budget: float = 10.0
    # Rule options: names a project adds to what gradscan knows.
    forward_methods: List[str] = field(default_factory=list)
    torch_module_bases: List[str] = field(default_factory=list)
    keras_layer_bases: List[str] = field(default_factory=list)
    # Whose fixes --fix / --diff may apply (ruff's `fixable`/`unfixable`): selectors as in `select`.
    fixable: List[str] = field(default_factory=lambda: ["ALL"])
    unfixable: List[str] = field(default_factory=list)
    config_file: Optional[Path] = None
    root: Path = field(default_factory=Path.cwd)  # the folder holding the config, or cwd
    # Selection layers applied after the four fields above (the command line's, for instance).
    selection_layers: Tuple[Selection, ...] = ()

    def enabled_codes(self) -> FrozenSet[str]:
        return resolve_selection(self)

    def with_selection(self, select: Optional[Sequence[str]] = None, extend_select: Sequence[str] = (),
                       ignore: Sequence[str] = (), extend_ignore: Sequence[str] = ()) -> "Settings":
        """These settings with one more selection layer on top (selectors already validated)."""
        if select is None and not (extend_select or ignore or extend_ignore):
            return self
        layer = Selection(None if select is None else tuple(select), tuple(extend_select), tuple(ignore), tuple(extend_ignore))
        return replace(self, selection_layers=self.selection_layers + (layer,))

    def fixable_codes(self) -> FrozenSet[str]:
        """Codes whose fixes may be applied: chosen by `fixable` more specifically than by
        `unfixable` (`unfixable` wins a tie), as selection works."""
        from gradscan.rules import REGISTRY

        return frozenset(c for c in REGISTRY if _specificity(self.fixable, c) > _specificity(self.unfixable, c))

    def fingerprint(self) -> str:
        """What a cached result depends on among the settings."""
        keep = ("keras", "declared_keras", "forward_methods", "torch_module_bases", "keras_layer_bases", "per_file_ignores")
        return repr(sorted(self.enabled_codes())) + repr([getattr(self, k) for k in keep])


# key in pyproject -> (Settings attribute, expected type)
_KEYS = {
    "select": ("select", list),
    "extend-select": ("extend_select", list),
    "ignore": ("ignore", list),
    "extend-ignore": ("extend_ignore", list),
    "exclude": ("exclude", list),
    "extend-exclude": ("extend_exclude", list),
    "per-file-ignores": ("per_file_ignores", dict),
    "respect-gitignore": ("respect_gitignore", bool),
    "force-exclude": ("force_exclude", bool),
    "keras": ("keras", str),
    "file-budget": ("file_budget", float),
    "forward-methods": ("forward_methods", list),
    "torch-module-bases": ("torch_module_bases", list),
    "keras-layer-bases": ("keras_layer_bases", list),
    "fixable": ("fixable", list),
    "unfixable": ("unfixable", list),
}
_SELECTOR_KEYS = ("select", "extend_select", "ignore", "extend_ignore", "fixable", "unfixable")


def _selector_matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def validate_selector(selector: str, where: str) -> str:
    from gradscan.rules import REGISTRY

    sel = selector.strip().upper() if isinstance(selector, str) else ""
    if sel and (sel == "ALL" or any(code.startswith(sel) for code in REGISTRY)):
        return sel
    raise ConfigError(f"{where}: unknown rule selector {selector!r} (see `gradscan rules`)")


def _specificity(selectors: Sequence[str], code: str) -> int:
    """How specifically the most specific matching selector names `code` (-1: none matches)."""
    return max((len(s) if s != "ALL" else 0 for s in map(str.upper, selectors) if _selector_matches(s, code)), default=-1)


_RESOLVED: Dict[tuple, FrozenSet[str]] = {}  # resolving is asked once per file: remember it


def resolve_selection(settings: Settings) -> FrozenSet[str]:
    from gradscan.rules import REGISTRY

    base = Selection(None if settings.select is None else tuple(settings.select), tuple(settings.extend_select),
                     tuple(settings.ignore), tuple(settings.extend_ignore))
    layers = (base, *settings.selection_layers)
    key = (layers, tuple((code, rule, rule.default_enabled) for code, rule in REGISTRY.items()))
    found = _RESOLVED.get(key)
    if found is None:
        if len(_RESOLVED) > 64:
            _RESOLVED.clear()
        found = _RESOLVED[key] = _resolve(layers, REGISTRY)
    return found


def _resolve(layers: Tuple[Selection, ...], registry) -> FrozenSet[str]:
    enabled = set()
    for code, rule in registry.items():
        # The default selection; syntax errors and crashes (the engine's codes that are on by
        # default) are reported whatever the selection.
        on = bool(rule.default_enabled)
        for layer in layers:
            if layer.select is not None:
                on = bool(rule.engine and rule.default_enabled)  # select replaces everything chosen before
            chosen = _specificity((*(layer.select or ()), *layer.extend_select), code)
            ignored = _specificity((*layer.ignore, *layer.extend_ignore), code)
            if chosen >= 0 or ignored >= 0:
                on = chosen > ignored  # the more specific selector wins; ignore wins a tie
        if on:
            enabled.add(code)
    return frozenset(enabled)


def find_config(start: Path) -> Optional[Path]:
    """The nearest pyproject.toml with a [tool.gradscan] table, searching upward."""
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                raw = candidate.read_bytes()
            except OSError:
                return candidate  # let load_config report it
            if b"gradscan" not in raw:
                continue  # not ours, even if it is broken
            try:
                data = tomllib.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                return candidate  # let load_config report it
            tool = data.get("tool")
            if isinstance(tool, dict) and "gradscan" in tool:
                return candidate
    return None


def load_config(path: Path, base: Optional[Settings] = None) -> Settings:
    """Settings from a pyproject.toml (or a gradscan.toml holding the table at top level)."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    tool = data.get("tool")
    if path.name == "pyproject.toml" or (isinstance(tool, dict) and "gradscan" in tool):
        table = tool.get("gradscan", {}) if isinstance(tool, dict) else {}
    else:
        table = data  # a gradscan.toml named with --config: the table at top level
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.gradscan] must be a table, not {_type_name(table)}")
    values = {}
    for key, value in table.items():
        if key not in _KEYS:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), list(_KEYS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{where}: unknown key {key!r} in [tool.gradscan] ({hint}known: {', '.join(sorted(_KEYS))})")
        attr, kind = _KEYS[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is float and isinstance(value, float) and not value >= 0:  # also NaN
            raise ConfigError(f"{where}: key {key!r} must be a number of seconds >= 0 (0: no limit), not {value!r}")
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: key {key!r} must be {_EXPECTED[kind]}, not {_type_name(value)}")
        if kind is dict:
            value = dict(value)
            for pattern, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"{where}: key 'per-file-ignores', pattern {pattern!r}: must be a list of rule codes, not {_type_name(codes)}")
                value[pattern] = [validate_selector(c, f"{where}: key 'per-file-ignores', pattern {pattern!r}") for c in codes]
        if attr in _SELECTOR_KEYS:
            value = [validate_selector(s, f"{where}: key {key!r}") for s in value]
        if attr == "keras" and value not in ("3", "legacy"):
            raise ConfigError(f"{where}: key 'keras' must be \"3\" or \"legacy\", not {value!r}")
        values[attr] = value
    return replace(base or Settings(), config_file=path, root=path.parent.resolve(), **values)


def settings_for(config: Optional[str] = None, isolated: bool = False, select: Sequence[str] = (),
                 extend_select: Sequence[str] = (), ignore: Sequence[str] = (), extend_ignore: Sequence[str] = (),
                 exclude: Sequence[str] = (), extend_exclude: Sequence[str] = (), **overrides) -> Settings:
    """The settings of a run: the configuration file (`config`, else the nearest pyproject.toml
    with [tool.gradscan], none when `isolated`), then the command line's values over it. Selector
    lists come as given on the command line (repeatable, comma-separated); `overrides` holds the
    other options, None meaning "not given". Raises ConfigError."""
    if isolated and config:
        raise ConfigError("--config and --isolated cannot be used together")
    if isolated:
        settings = Settings()
    else:
        path = Path(config) if config else find_config(Path.cwd())
        if config and not path.is_file():
            raise ConfigError(f"{config}: configuration file not found")
        settings = load_config(path) if path is not None else Settings()
    layer = {key: [validate_selector(s, f"--{key.replace('_', '-')}") for s in _split(values)]
             for key, values in (("select", select), ("extend_select", extend_select), ("ignore", ignore),
                                 ("extend_ignore", extend_ignore)) if values}
    settings = settings.with_selection(**layer)  # the command line is a layer over the file, as in ruff
    values = {key: value for key, value in overrides.items() if value is not None}
    if exclude:
        values["exclude"] = _split(exclude)
    if extend_exclude:
        values["extend_exclude"] = list(settings.extend_exclude) + _split(extend_exclude)
    return replace(settings, **values)


def _split(values: Sequence[str]) -> List[str]:
    """Repeated options whose values may each hold a comma-separated list."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


_EXPECTED = {list: "a list of strings", dict: "a table", bool: "true or false", str: "a string",
             float: "a number of seconds"}


def _type_name(value) -> str:
    """The TOML name of a value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list of strings" if all(isinstance(v, str) for v in value) else "a list holding non-strings"
    return {dict: "a table", str: "a string", int: "an integer", float: "a float"}.get(type(value), type(value).__name__)


def settings_field_names() -> List[str]:
    return [f.name for f in fields(Settings)]

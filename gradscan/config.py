"""Settings: defaults, `[tool.gradscan]` in pyproject.toml, then the command line, in that order.

Rule selection follows ruff: `select` replaces the default set, `extend-select` adds to it,
`ignore`/`extend-ignore` remove, selectors match by prefix (`GS2`, `GS201`, `ALL`), and the more
specific selector wins. A rule that is off by default runs only when a select entry names it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional

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
    keras: str = "3"  # "3" or "legacy" (tf_keras / TensorFlow <= 2.15)
    # Rule options: names a project adds to what gradscan knows.
    forward_methods: List[str] = field(default_factory=list)
    torch_module_bases: List[str] = field(default_factory=list)
    keras_layer_bases: List[str] = field(default_factory=list)
    config_file: Optional[Path] = None
    root: Path = field(default_factory=Path.cwd)  # the folder holding the config, or cwd

    def enabled_codes(self) -> FrozenSet[str]:
        return resolve_selection(self)

    def fingerprint(self) -> str:
        """What a cached result depends on among the settings."""
        keep = ("keras", "forward_methods", "torch_module_bases", "keras_layer_bases")
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
    "forward-methods": ("forward_methods", list),
    "torch-module-bases": ("torch_module_bases", list),
    "keras-layer-bases": ("keras_layer_bases", list),
}
_SELECTOR_KEYS = ("select", "extend_select", "ignore", "extend_ignore")


def _selector_matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def validate_selector(selector: str, where: str) -> str:
    from gradscan.rules import REGISTRY

    sel = selector.strip().upper()
    if sel == "ALL" or any(code.startswith(sel) for code in REGISTRY):
        return sel
    raise ConfigError(f"{where}: unknown rule selector {selector!r}")


def resolve_selection(settings: Settings) -> FrozenSet[str]:
    from gradscan.rules import REGISTRY

    explicit = list(settings.select or []) + list(settings.extend_select)
    ignores = list(settings.ignore) + list(settings.extend_ignore)
    enabled = set()
    for code, rule in REGISTRY.items():
        ignored = max((len(s) if s != "ALL" else 0 for s in ignores if _selector_matches(s, code)), default=-1)
        chosen = max((len(s) if s != "ALL" else 0 for s in explicit if _selector_matches(s, code)), default=-1)
        if chosen < 0 and settings.select is None and (rule.default_enabled or rule.engine):
            chosen = 0  # the default selection, as unspecific as ALL
        if rule.engine and chosen < 0:
            chosen = 0  # syntax errors and crashes are reported whatever the selection
        if chosen >= 0 and chosen > ignored:
            enabled.add(code)
    return frozenset(enabled)


def find_config(start: Path) -> Optional[Path]:
    """The nearest pyproject.toml with a [tool.gradscan] table, searching upward."""
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return candidate  # let load_config report it
            if "gradscan" in data.get("tool", {}):
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
    table = data.get("tool", {}).get("gradscan", {}) if path.name == "pyproject.toml" else data
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.gradscan] must be a table")
    values = {}
    for key, value in table.items():
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} in [tool.gradscan] (known: {', '.join(sorted(_KEYS))})")
        attr, kind = _KEYS[key]
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            expected = "a list of strings" if kind is list else kind.__name__
            raise ConfigError(f"{where}: key {key!r} must be {expected}, not {type(value).__name__}")
        if kind is dict:
            for pattern, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"{where}: per-file-ignores[{pattern!r}] must be a list of rule codes")
                value[pattern] = [validate_selector(c, f"{where}: per-file-ignores[{pattern!r}]") for c in codes]
        if attr in _SELECTOR_KEYS:
            value = [validate_selector(s, f"{where}: key {key!r}") for s in value]
        if attr == "keras" and value not in ("3", "legacy"):
            raise ConfigError(f"{where}: key 'keras' must be \"3\" or \"legacy\", not {value!r}")
        values[attr] = value
    return replace(base or Settings(), config_file=path, root=path.parent.resolve(), **values)


def settings_field_names() -> List[str]:
    return [f.name for f in fields(Settings)]

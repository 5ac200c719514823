"""Rule selection (ruff's semantics), `[tool.gradscan]` in pyproject.toml, and its errors (issue 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradscan.config import ConfigError, Settings, find_config, load_config, resolve_selection
from gradscan.rules import REGISTRY
from tests.cli_support import BAD, ISOLATED, cli, free_code, gs001, run, temporary_rule, write


def codes(**kwargs) -> set:
    return set(Settings(**kwargs).enabled_codes())


def default_set() -> set:
    return {c for c, r in REGISTRY.items() if r.default_enabled or r.engine}


def band(prefix: str) -> set:
    return {c for c in REGISTRY if c.startswith(prefix)}


ENGINE = {"GS000", "GS001", "GS002"}


# --- selection: ruff's semantics ------------------------------------------------------------

def test_default_selection_is_the_default_on_rules():
    assert codes() == default_set()
    assert ENGINE <= codes()


def test_select_replaces_the_default_set():
    assert codes(select=["GS101"]) == ENGINE | {"GS101"}
    assert codes(select=[]) == ENGINE


def test_extend_select_adds_to_the_default_set():
    with temporary_rule(default_enabled=False) as off:
        assert codes(extend_select=[off.code]) == default_set() | {off.code}
        assert codes(select=["GS101"], extend_select=["GS107"]) == ENGINE | {"GS101", "GS107"}


def test_prefixes_and_all():
    assert codes(select=["GS1"]) == ENGINE | band("GS1")
    assert codes(select=["GS10"]) == ENGINE | band("GS10")
    assert codes(select=["ALL"]) == set(REGISTRY)
    assert codes(select=["gs101"]) == ENGINE | {"GS101"}, "selectors are case-insensitive"


def test_ignore_and_extend_ignore():
    assert codes(ignore=["GS1"]) == default_set() - band("GS1")
    assert codes(extend_ignore=["GS101"]) == default_set() - {"GS101"}
    assert codes(ignore=["GS101"], extend_ignore=["GS107"]) == default_set() - {"GS101", "GS107"}
    assert codes(select=["ALL"], ignore=["GS001"]) == set(REGISTRY) - {"GS001"}


def test_the_more_specific_selector_wins():
    assert codes(select=["GS1"], ignore=["GS101"]) == ENGINE | band("GS1") - {"GS101"}
    assert codes(select=["GS101"], ignore=["GS1"]) == ENGINE | {"GS101"}
    assert codes(ignore=["ALL"], extend_select=["GS101"]) == {"GS101"}
    assert codes(select=["ALL"], ignore=["GS1"], extend_select=["GS107"]) == set(REGISTRY) - band("GS1") | {"GS107"}
    # A tie goes to ignore, as in ruff.
    assert "GS101" not in codes(select=["GS101"], ignore=["GS101"])


def test_engine_codes_are_on_whatever_the_selection_unless_ignored():
    assert ENGINE <= codes(select=["GS2"])
    assert "GS001" not in codes(select=["GS2"], ignore=["GS001"])
    assert "GS001" not in codes(extend_ignore=["GS0"])


def test_a_default_off_rule_runs_only_when_named():
    with temporary_rule(code=free_code("GS19"), default_enabled=False) as off:
        assert off.code not in codes()
        assert off.code not in codes(select=["GS2"])
        assert off.code not in codes(extend_select=["GS2"])
        assert off.code in codes(extend_select=[off.code])
        assert off.code in codes(extend_select=["GS1"]), "by a prefix"
        assert off.code in codes(select=["GS19"])
        assert off.code in codes(select=["ALL"]), "by ALL"
        assert off.code not in codes(select=["ALL"], ignore=[off.code])


def test_gs109_is_off_by_default_and_on_with_extend_select():
    rule = REGISTRY.get("GS109")
    if rule is None:
        pytest.skip("GS109 is not written yet (its default-off behaviour is covered by a test-only rule)")
    assert not rule.default_enabled
    assert "GS109" not in codes()
    assert "GS109" in codes(extend_select=["GS109"])


def test_command_line_layer_over_the_file():
    """As in ruff: a layer with `select` starts afresh; one without adds and removes."""
    file = Settings(select=["GS1"], ignore=["GS101"], extend_select=["GS2"])
    assert "GS101" not in file.enabled_codes()
    cli_select = file.with_selection(select=["GS101"])
    assert cli_select.enabled_codes() == ENGINE | {"GS101"}, "the file's ignore and extend-select no longer count"
    assert "GS101" in file.with_selection(extend_select=["GS101"]).enabled_codes()
    also_ignored = file.with_selection(ignore=["GS107"]).enabled_codes()
    assert not {"GS101", "GS107"} & also_ignored and band("GS2") <= also_ignored
    assert file.with_selection() is file


def test_selection_options_on_the_command_line(tmp_path):
    write(tmp_path, "m.py")

    def found(*args):
        return cli([*ISOLATED, *args, "m.py"], tmp_path).codes()

    assert found("--select", "GS107") == ["GS107"]
    assert found("--select", "GS101", "--select", "gs107") == ["GS101", "GS101", "GS107"], "repeated and lower-case"
    assert found("--select", "GS101,GS107", "--ignore", "GS107") == ["GS101", "GS101"]
    assert found("--select", "GS107", "--extend-select", "GS101") == ["GS101", "GS101", "GS107"]
    assert found("--select", "GS101,GS107", "--extend-ignore", "GS101") == ["GS107"]
    assert found("--select", "GS101,GS107", "--ignore", "GS1") == ["GS101", "GS101", "GS107"], "more specific"
    mixed = found("--select", "GS1", "--ignore", "GS10", "--extend-select", "GS107")
    assert "GS107" in mixed and "GS101" not in mixed
    assert found("--ignore", "ALL", "--extend-select", "GS101") == ["GS101", "GS101"]


def test_default_off_rule_on_the_command_line(tmp_path):
    write(tmp_path, "m.py")
    with temporary_rule(default_enabled=False, pattern="nn") as off:
        default = cli([*ISOLATED, "m.py"], tmp_path)
        extended = cli([*ISOLATED, "--extend-select", off.code, "m.py"], tmp_path)
    assert off.code not in default.codes()
    assert off.code in extended.codes() and set(default.codes()) <= set(extended.codes())


# --- finding and reading the configuration ------------------------------------------------------

CONFIG = '[tool.gradscan]\nselect = ["GS107"]\n'


def test_configuration_is_found_upward_from_the_current_folder(tmp_path):
    write(tmp_path, "pyproject.toml", CONFIG)
    write(tmp_path, "a/pyproject.toml", '[project]\nname = "x"\n')  # nearer, but not ours
    write(tmp_path, "a/b/broken/pyproject.toml", "[project\n")  # broken, but it does not mention gradscan
    write(tmp_path, "a/b/broken/m.py")
    r = cli(["--no-cache", "."], tmp_path / "a" / "b" / "broken")
    assert r.codes() == ["GS107"], r
    assert find_config(tmp_path / "a" / "b") == tmp_path / "pyproject.toml"


def test_isolated_ignores_every_configuration_even_a_broken_one(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.gradscan]\nselect = 1\n")
    write(tmp_path, "m.py")
    assert cli(["--no-cache", "m.py"], tmp_path).code == 2
    r = cli([*ISOLATED, "--select", "GS101,GS107", "m.py"], tmp_path)
    assert r.code == 1 and r.codes() == ["GS101", "GS101", "GS107"]


def test_config_option_names_the_file(tmp_path):
    write(tmp_path, "m.py")
    write(tmp_path, "elsewhere/pyproject.toml", CONFIG)
    write(tmp_path, "gradscan.toml", 'select = ["GS107"]\n')  # the table at top level
    write(tmp_path, "other.toml", '[tool.gradscan]\nselect = ["GS107"]\n')
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101"]\n')
    for name in ("elsewhere/pyproject.toml", "gradscan.toml", "other.toml"):
        r = cli(["--no-cache", "--config", name, "m.py"], tmp_path)
        assert r.codes() == ["GS107"], (name, r)
    assert cli(["--no-cache", "m.py"], tmp_path).codes() == ["GS101", "GS101"]
    both = cli(["--no-cache", "--config", "gradscan.toml", "--isolated", "m.py"], tmp_path)
    assert both.code == 2 and both.stderr.strip() == "gradscan: error: --config and --isolated cannot be used together"
    missing = cli(["--no-cache", "--config", "nope.toml", "m.py"], tmp_path)
    assert missing.code == 2 and missing.stderr.strip() == "gradscan: error: nope.toml: configuration file not found"


def test_command_line_overrides_the_file(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101"]\nexclude = ["skipped"]\nrespect-gitignore = false\n')
    write(tmp_path, ".gitignore", "ignored.py\n")
    write(tmp_path, "skipped/m.py")
    write(tmp_path, "ignored.py")
    write(tmp_path, "m.py")

    def files(*args):
        return sorted({line.split(":")[0] for line in cli(["--no-cache", *args], tmp_path).lines})

    assert files() == ["ignored.py", "m.py"]
    assert files("--respect-gitignore") == ["m.py"]
    assert files("--exclude", "ignored.py") == ["m.py", "skipped/m.py"]
    assert files("--select", "GS107", "--extend-exclude", "ignored.py") == ["m.py"]
    assert cli(["--no-cache", "--select", "GS107", "m.py"], tmp_path).codes() == ["GS107"]


def test_every_key_is_read(tmp_path):
    path = write(tmp_path, "pyproject.toml", """\
        [tool.gradscan]
        select = ["GS1"]
        extend-select = ["GS2"]
        ignore = ["GS101"]
        extend-ignore = ["GS107"]
        exclude = ["gen"]
        extend-exclude = ["*_pb2.py"]
        per-file-ignores = {"tests/*" = ["GS2"]}
        respect-gitignore = false
        force-exclude = true
        keras = "legacy"
        forward-methods = ["predict_step"]
        torch-module-bases = ["mylib.Block"]
        keras-layer-bases = ["mylib.KLayer"]
    """)
    s = load_config(path)
    assert (s.select, s.extend_select, s.ignore, s.extend_ignore) == (["GS1"], ["GS2"], ["GS101"], ["GS107"])
    assert (s.exclude, s.extend_exclude, s.per_file_ignores) == (["gen"], ["*_pb2.py"], {"tests/*": ["GS2"]})
    assert (s.respect_gitignore, s.force_exclude, s.keras) == (False, True, "legacy")
    assert (s.forward_methods, s.torch_module_bases, s.keras_layer_bases) == (["predict_step"], ["mylib.Block"], ["mylib.KLayer"])
    assert s.root == tmp_path.resolve() and s.config_file == path


@pytest.mark.parametrize("toml, key, words", [
    ("[tool.gradscan\nselect = 1\n", None, "invalid TOML"),
    ('[tool.gradscan]\nselect = ["GS1"\n', None, "invalid TOML"),
    ('[tool.gradscan]\nselct = ["GS1"]\n', "selct", "unknown key"),
    ('[tool.gradscan.rules]\nx = 1\n', "rules", "unknown key"),
    ('[tool.gradscan]\nselect = "GS1"\n', "select", "must be a list of strings, not a string"),
    ('[tool.gradscan]\nignore = [101]\n', "ignore", "must be a list of strings"),
    ('[tool.gradscan]\nexclude = "build"\n', "exclude", "must be a list of strings"),
    ('[tool.gradscan]\nrespect-gitignore = "yes"\n', "respect-gitignore", "must be true or false, not a string"),
    ('[tool.gradscan]\nforce-exclude = 1\n', "force-exclude", "must be true or false, not an integer"),
    ('[tool.gradscan]\nkeras = 3\n', "keras", "must be a string, not an integer"),
    ('[tool.gradscan]\nkeras = "2"\n', "keras", '"3" or "legacy"'),
    ('[tool.gradscan]\nper-file-ignores = ["a.py"]\n', "per-file-ignores", "must be a table"),
    ('[tool.gradscan]\nper-file-ignores = {"a.py" = "GS101"}\n', "per-file-ignores", "must be a list of rule codes"),
    ('[tool]\ngradscan = 3\n', "tool.gradscan", "must be a table"),
    ('[tool.gradscan]\nselect = ["GS9"]\n', "select", "unknown rule selector 'GS9'"),
    ('[tool.gradscan]\nextend-ignore = ["NOPE"]\n', "extend-ignore", "unknown rule selector 'NOPE'"),
    ('[tool.gradscan]\nselect = [""]\n', "select", "unknown rule selector ''"),
    ('[tool.gradscan]\nper-file-ignores = {"a.py" = ["GS9"]}\n', "per-file-ignores", "unknown rule selector 'GS9'"),
    ('[tool.gradscan]\nforward-methods = [1]\n', "forward-methods", "must be a list of strings"),
])
def test_bad_configuration_is_one_line_naming_file_and_key_exit_2(tmp_path, toml, key, words):
    write(tmp_path, "pyproject.toml", toml)
    write(tmp_path, "m.py")
    for r in (cli(["--no-cache", "m.py"], tmp_path),):
        assert r.code == 2, r
        assert r.stdout == ""
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r
        assert lines[0].startswith(f"gradscan: error: {tmp_path / 'pyproject.toml'}: "), r
        assert words in lines[0], r
        if key is not None:
            assert f"'{key}'" in lines[0] or f"[{key}]" in lines[0], r


def test_bad_configuration_in_a_real_subprocess(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS9"]\n')
    write(tmp_path, "m.py")
    r = run(["--no-cache", "m.py"], tmp_path)
    assert r.code == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
    assert "'select'" in r.stderr and "pyproject.toml" in r.stderr


def test_non_utf8_configuration_is_an_error_not_a_traceback(tmp_path):
    write(tmp_path, "pyproject.toml", b'[tool.gradscan]\nselect = ["GS1"] # caf\xe9\n')
    r = cli(["--no-cache", "."], tmp_path)
    assert r.code == 2 and "not UTF-8" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r


def test_load_config_raises_config_error(tmp_path):
    path = write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS9"]\n')
    with pytest.raises(ConfigError, match="select"):
        load_config(path)


# --- per-file-ignores ----------------------------------------------------------------------

def test_per_file_ignores_globs_relative_to_the_project_root(tmp_path):
    write(tmp_path, "pyproject.toml", """\
        [tool.gradscan]
        select = ["GS101", "GS107"]
        per-file-ignores = {"tests/*" = ["GS101"], "legacy.py" = ["GS1"], "./scripts/run.py" = ["ALL"]}
    """)
    for rel in ("tests/test_m.py", "src/legacy.py", "scripts/run.py", "src/m.py"):
        write(tmp_path, rel)

    def found(cwd, *paths):
        return sorted((line.split(":")[0], line.split(": ", 1)[1].split()[0]) for line in cli(["--no-cache", *paths], cwd).lines)

    expected = [("src/m.py", "GS101"), ("src/m.py", "GS101"), ("src/m.py", "GS107"), ("tests/test_m.py", "GS107")]
    assert found(tmp_path, ".") == expected
    # The same verdicts from a subfolder, where paths print relative to it.
    assert found(tmp_path / "tests", ".") == [("test_m.py", "GS107")]
    assert found(tmp_path / "src", ".") == [("m.py", "GS101"), ("m.py", "GS101"), ("m.py", "GS107")]


def test_per_file_ignores_pattern_with_a_slash_is_anchored_at_the_root(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101"]\nper-file-ignores = {"tests/*" = ["GS101"]}\n')
    write(tmp_path, "tests/a.py")
    write(tmp_path, "src/tests/b.py")
    r = cli(["--no-cache", "."], tmp_path)
    assert sorted({line.split(":")[0] for line in r.lines}) == ["src/tests/b.py"], r


def test_per_file_ignores_apply_to_unreadable_files(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nper-file-ignores = {"vendor/*" = ["GS001"]}\n')
    write(tmp_path, "vendor/broken.py", "def f(:\n")
    write(tmp_path, "vendor/binary.py", b"\x00\x01")
    write(tmp_path, "own/broken.py", "def f(:\n")
    r = cli(["--no-cache", "."], tmp_path)
    assert r.lines == ["own/broken.py:" + gs001("def f(:\n")], r


def test_rule_options_reach_the_rules(tmp_path):
    """torch-module-bases: a project's own nn.Module base class, named in the configuration."""
    write(tmp_path, "m.py", """\
        import torch
        from mylib import Block

        class Net(Block):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)
    """)
    assert cli([*ISOLATED, "--select", "GS101", "m.py"], tmp_path).codes() == []
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101"]\ntorch-module-bases = ["mylib.Block"]\n')
    assert cli(["--no-cache", "m.py"], tmp_path).codes() == ["GS101"]
    # The cache must know the option: the same run with the cache, before and after a change.
    assert cli(["m.py"], tmp_path).codes() == ["GS101"]
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101"]\n')
    assert cli(["m.py"], tmp_path).codes() == []

"""The command line, run for real: exit codes, subcommands, standard input, internal errors,
inputs it cannot handle, the order and the form of what it prints (issue 2)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from gradscan import __version__
from tests.cli_support import BAD, GOOD, ISOLATED, REPO, SELECT, cli, gradscan_script, gs001, run, temporary_rule, write

CHECK = [*ISOLATED, *SELECT]


# --- exit status -------------------------------------------------------------------------

def test_findings_exit_1_in_flake8_format(tmp_path):
    write(tmp_path, "src/model.py")
    r = cli([*CHECK, "src"], tmp_path)
    assert r.code == 1, r
    assert r.lines == [
        "src/model.py:7:18: GS101 " + _message("GS101"),
        "src/model.py:8:18: GS101 " + _message("GS101"),
        "src/model.py:9:16: GS107 " + _message("GS107"),
    ], r
    assert r.stderr.strip() == "Found 3 problems in 1 of 1 file.", r


def test_clean_exit_0_with_nothing_on_stdout(tmp_path):
    write(tmp_path, "src/model.py", GOOD)
    r = cli([*CHECK, "src"], tmp_path)
    assert (r.code, r.stdout, r.stderr) == (0, "", "All checks passed: 1 file.\n"), r


@pytest.mark.parametrize("args, words", [
    (["--no-such-option"], "no such option"),
    (["missing.py"], "missing.py: no such file or folder"),
    (["--output-format", "xml", "."], "xml"),
    (["--select", "GS9"], "'GS9'"),
    (["--ignore", "XYZ1"], "'XYZ1'"),
    (["--extend-select", "GS1,NOPE"], "'NOPE'"),
    (["-", "src"], "standard input"),
])
def test_usage_errors_exit_2_with_one_clear_line(tmp_path, args, words):
    write(tmp_path, "src/model.py")
    r = cli([*ISOLATED, *args], tmp_path)
    assert r.code == 2, r
    assert r.stdout == "", r
    assert words.lower() in r.stderr.lower() and "Traceback" not in r.stderr, r


def test_unknown_selector_is_one_line_naming_the_option(tmp_path):
    r = cli([*ISOLATED, "--select", "GS101,GS9X", "."], tmp_path)
    assert r.code == 2
    assert r.stderr.strip().splitlines() == ["gradscan: error: --select: unknown rule selector 'GS9X' (see `gradscan rules`)"]


def test_exit_zero_keeps_the_findings(tmp_path):
    write(tmp_path, "m.py")
    r = cli([*CHECK, "--exit-zero", "m.py"], tmp_path)
    assert r.code == 0 and len(r.lines) == 3, r


# --- internal errors (GS000) -------------------------------------------------------------

def test_crashing_rule_is_gs000_exit_2_and_the_rest_still_runs(tmp_path):
    write(tmp_path, "a.py")
    write(tmp_path, "b.py")
    with temporary_rule(crash=True) as crash:
        r = cli([*ISOLATED, "--select", f"GS101,{crash.code}", "a.py", "b.py"], tmp_path)
    assert r.code == 2, r
    assert r.lines == [
        f"a.py:1:1: GS000 internal error in rule {crash.code}: ValueError: boom from a test-only rule",
        "a.py:7:18: GS101 " + _message("GS101"),
        "a.py:8:18: GS101 " + _message("GS101"),
        f"b.py:1:1: GS000 internal error in rule {crash.code}: ValueError: boom from a test-only rule",
        "b.py:7:18: GS101 " + _message("GS101"),
        "b.py:8:18: GS101 " + _message("GS101"),
    ], r
    assert "Traceback" not in r.stdout + r.stderr
    assert "--verbose" in r.stderr, "the user is told how to see the traceback"


def test_verbose_shows_the_traceback_on_stderr(tmp_path):
    write(tmp_path, "a.py")
    with temporary_rule(crash=True) as crash:
        r = cli([*ISOLATED, "--select", crash.code, "--verbose", "a.py"], tmp_path)
        full = cli([*ISOLATED, "--select", crash.code, "--verbose", "--output-format", "full", "a.py"], tmp_path)
        as_json = cli([*ISOLATED, "--select", crash.code, "--verbose", "--output-format", "json", "a.py"], tmp_path)
    assert r.code == 2
    assert "Traceback (most recent call last)" in r.stderr and "ValueError: boom" in r.stderr, r
    assert "Traceback" not in r.stdout
    assert full.code == 2 and "Traceback (most recent call last)" in full.stdout, full
    assert as_json.code == 2 and json.loads(as_json.stdout)[0]["code"] == "GS000", as_json


def test_gs000_exit_2_even_with_exit_zero(tmp_path):
    write(tmp_path, "a.py")
    with temporary_rule(crash=True) as crash:
        r = cli([*ISOLATED, "--select", crash.code, "--exit-zero", "a.py"], tmp_path)
    assert r.code == 2, r


def test_crashing_rule_is_skipped_where_its_triggers_are_absent(tmp_path):
    write(tmp_path, "a.py", "x = 1\n")
    with temporary_rule(crash=True, trigger="torch") as crash:
        r = cli([*ISOLATED, "--select", crash.code, "a.py"], tmp_path)
    assert (r.code, r.stdout) == (0, ""), r


def test_gs000_in_a_real_subprocess(tmp_path):
    """The exit status of the installed command, with a crashing rule registered in that process."""
    write(tmp_path, "a.py")
    program = (
        "import sys\n"
        "from tests.cli_support import temporary_rule\n"
        "from gradscan.cli import main\n"
        "with temporary_rule(code='GS199', crash=True):\n"
        "    sys.argv = ['gradscan', '--isolated', '--no-cache', '--select', 'GS199,GS101', 'a.py']\n"
        "    main()\n"
    )
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc
    assert proc.stdout.splitlines()[0] == "a.py:1:1: GS000 internal error in rule GS199: ValueError: boom from a test-only rule"
    assert "a.py:7:18: GS101" in proc.stdout
    assert "Traceback" not in proc.stderr


# --- the real command: python -m gradscan and the gradscan script ---------------------------

def test_python_m_and_the_script_behave_the_same(tmp_path):
    write(tmp_path, "src/model.py")
    write(tmp_path, "src/clean.py", GOOD)
    as_module = run([*CHECK, "src"], tmp_path)
    as_script = run([*CHECK, "src"], tmp_path, command=gradscan_script())
    in_process = cli([*CHECK, "src"], tmp_path)
    assert as_module.code == as_script.code == in_process.code == 1
    assert as_module.stdout == as_script.stdout == in_process.stdout
    assert as_module.stderr.strip() == "Found 3 problems in 1 of 2 files."
    clean = run([*CHECK, "src/clean.py"], tmp_path, command=gradscan_script())
    assert (clean.code, clean.stdout, clean.stderr) == (0, "", "All checks passed: 1 file.\n")
    usage = run([*ISOLATED, "--select", "NOPE"], tmp_path)
    assert usage.code == 2 and "Traceback" not in usage.stderr and "'NOPE'" in usage.stderr


def test_no_path_scans_the_current_folder(tmp_path):
    write(tmp_path, "pkg/deep/model.py")
    write(tmp_path, "top.py")
    r = run(CHECK, tmp_path)
    assert r.code == 1
    assert [line.split(":")[0] for line in r.lines] == ["pkg/deep/model.py"] * 3 + ["top.py"] * 3, r


def test_fixtures_folder_prints_findings_and_exits_1():
    """The issue's "Done when": `gradscan tests/fixtures` on the repository."""
    r = run(["--no-cache", "tests/fixtures"], REPO, command=gradscan_script())
    assert r.code == 1, r
    assert r.lines and all(": GS" in line for line in r.lines), r
    assert "Traceback" not in r.stderr


def test_version(tmp_path):
    r = cli(["--version"], tmp_path)
    assert r.code == 0 and __version__ in r.stdout


# --- subcommands -------------------------------------------------------------------------

def test_explain_prints_the_documentation(tmp_path):
    r = run(["explain", "GS001"], tmp_path, command=gradscan_script())
    assert r.code == 0, r
    assert r.stdout.startswith("# GS001 unreadable-file"), r
    assert "## What it does" in r.stdout and "syntax error" in r.stdout
    lower = cli(["explain", "gs101"], tmp_path)
    assert lower.code == 0 and lower.stdout.startswith("# GS101 tensor-attribute-requires-grad")
    for section in ("## What it does", "## Why it breaks gradients", "## Example", "## Use instead", "## References"):
        assert section in lower.stdout


def test_explain_unknown_code_exit_2(tmp_path):
    r = cli(["explain", "GS999"], tmp_path)
    assert r.code == 2 and "unknown rule code or name 'GS999'" in r.stderr and r.stdout == ""


def test_explain_accepts_a_rule_name(tmp_path):
    by_name = run(["explain", "detach-in-forward"], tmp_path)
    assert by_name.code == 0 and by_name.stdout == cli(["explain", "GS201"], tmp_path).stdout, by_name
    typo = cli(["explain", "detach-in-forwrd"], tmp_path)
    assert typo.code == 2 and "did you mean 'detach-in-forward', GS201?" in typo.stderr, typo


def test_explain_says_how_to_enable_a_default_off_rule(tmp_path):
    with temporary_rule(default_enabled=False) as rule:
        r = cli(["explain", rule.code], tmp_path)
    assert f"off by default (enable with --extend-select {rule.code})" in r.stdout


def test_rules_lists_every_rule_with_its_state(tmp_path):
    from gradscan.rules import all_rules

    with temporary_rule(default_enabled=False) as off:
        r = cli(["rules"], tmp_path)
        rules = all_rules()
    assert r.code == 0
    assert len(r.lines) == len(rules)
    for line, rule in zip(r.lines, rules):
        fields = line.split()
        state = "on" if rule.default_enabled else "off"
        assert fields[:4] == [rule.code, rule.name, rule.framework, state], line
        assert line.endswith(rule.summary)
    assert any(line.startswith(off.code) and " off " in line for line in r.lines)


def test_rules_json(tmp_path):
    from gradscan.rules import all_rules

    with temporary_rule(default_enabled=False) as off:
        r = cli(["rules", "--format", "json"], tmp_path)
        expected = {rule.code: rule for rule in all_rules()}
    data = json.loads(r.stdout)
    assert [item["code"] for item in data] == sorted(expected)
    for item in data:
        assert set(item) >= {"code", "name", "framework", "default", "summary"}
        rule = expected[item["code"]]
        assert item["name"] == rule.name and item["summary"] == rule.summary
        assert item["default"] is bool(rule.default_enabled)
        assert item["severity"] == rule.severity in ("error", "warning")
    assert next(i for i in data if i["code"] == off.code)["default"] is False


def test_a_subcommand_wins_over_a_folder_of_the_same_name(tmp_path):
    write(tmp_path, "rules/model.py")
    write(tmp_path, "explain/model.py")
    listing = cli(["rules"], tmp_path)
    assert listing.code == 0 and listing.lines[0].startswith("GS000"), listing
    scanned = cli([*CHECK, "./rules"], tmp_path)
    assert scanned.code == 1 and all(line.startswith("rules/model.py:") for line in scanned.lines), scanned
    first_is_path = cli([*CHECK, "rules/model.py"], tmp_path)
    assert first_is_path.code == 1 and len(first_is_path.lines) == 3
    # A path as the very first argument, as the design promises.
    bare = cli(["./explain", *CHECK], tmp_path)
    assert bare.code == 1 and all(line.startswith("explain/model.py:") for line in bare.lines), bare


def test_check_subcommand_is_the_default(tmp_path):
    write(tmp_path, "m.py")
    assert cli(["check", *CHECK, "m.py"], tmp_path).stdout == cli([*CHECK, "m.py"], tmp_path).stdout != ""


# --- output options ------------------------------------------------------------------------

def test_quiet_prints_findings_only(tmp_path):
    write(tmp_path, "m.py")
    r = cli([*CHECK, "--quiet", "m.py"], tmp_path)
    assert r.code == 1 and len(r.lines) == 3 and r.stderr == "", r


def test_a_clean_run_says_what_it_checked(tmp_path):
    write(tmp_path, "src/a.py", GOOD)
    write(tmp_path, "src/b.py", GOOD)
    r = run([*CHECK, "src"], tmp_path)
    assert (r.code, r.stdout, r.stderr) == (0, "", "All checks passed: 2 files.\n"), r
    assert run([*CHECK, "-q", "src"], tmp_path).stderr == ""
    write(tmp_path, "src/c.py")
    r = run([*CHECK, "src"], tmp_path)
    assert r.stderr == "Found 3 problems in 1 of 3 files.\n", r


def test_statistics_counts_per_code(tmp_path):
    write(tmp_path, "a.py")
    write(tmp_path, "b.py")
    r = cli([*CHECK, "--statistics", "."], tmp_path)
    assert r.code == 1
    rows = [line.split("\t") for line in r.lines]
    assert [(int(n), code, name) for n, code, name in rows[:-1]] == [
        (4, "GS101", "tensor-attribute-requires-grad"),
        (2, "GS107", "require-grad-typo"),
    ], r
    assert [int(rows[-1][0]), rows[-1][1]] == [6, "total"]
    as_json = cli([*CHECK, "--statistics", "--output-format", "json", "."], tmp_path)
    assert as_json.code == 1 and as_json.stderr == ""
    assert json.loads(as_json.stdout) == {"total": 6, "rules": [
        {"code": "GS101", "name": "tensor-attribute-requires-grad", "count": 4},
        {"code": "GS107", "name": "require-grad-typo", "count": 2}]}
    assert r.stderr == ""
    clean = cli([*CHECK, "--statistics", "--exit-zero", "."], tmp_path)
    assert clean.code == 0 and clean.stdout == r.stdout


def test_output_is_sorted_by_path_line_column_code(tmp_path):
    # Files given out of order, and two rules on the same line and column.
    write(tmp_path, "b.py")
    write(tmp_path, "a/z.py")
    write(tmp_path, "a.py")
    with temporary_rule(code=None, pattern="torch") as extra:
        r = cli([*ISOLATED, "--select", f"GS101,GS107,{extra.code}", "b.py", "a/z.py", "a.py"], tmp_path)
    keys = []
    for line in r.lines:
        path, row, col, rest = line.split(":", 3)
        keys.append((path, int(row), int(col), rest.split()[0]))
    assert keys == sorted(keys) and len(keys) > 9, r
    assert [k[0] for k in keys][:1] == ["a.py"] and keys[-1][0] == "b.py"


def test_paths_are_relative_to_the_current_folder_when_under_it(tmp_path):
    project = tmp_path / "project"
    write(project, "src/m.py")
    outside = write(tmp_path, "elsewhere/o.py")
    r = cli([*CHECK, str(project / "src"), str(project / "src" / "m.py"), "./src/../src/m.py", str(outside)], project)
    paths = sorted({line.split(":")[0] for line in r.lines})
    assert paths == sorted(["src/m.py", str(outside)]), r
    assert len(r.lines) == 6, "a file named several ways is checked once"


def test_noqa_skip_file_and_disable_noqa_from_the_command(tmp_path):
    write(tmp_path, "a.py", BAD.replace("requires_grad=True)\n", "requires_grad=True)  # noqa: GS101\n", 1)
          .replace("self.w.require_grad = False", "self.w.require_grad = False  # NOQA"))
    write(tmp_path, "b.py", "# gradscan: skip-file\n" + BAD)
    r = cli([*CHECK, "a.py", "b.py"], tmp_path)
    assert r.lines == ["a.py:8:18: GS101 " + _message("GS101")], r
    shown = cli([*CHECK, "--disable-noqa", "a.py", "b.py"], tmp_path)
    assert [line.split(": ")[0] for line in shown.lines] == ["a.py:7:18", "a.py:8:18", "a.py:9:16",
                                                             "b.py:8:18", "b.py:9:18", "b.py:10:16"], shown


# --- standard input ------------------------------------------------------------------------

def test_stdin_with_stdin_filename(tmp_path):
    r = cli([*CHECK, "-", "--stdin-filename", "pkg/model.py"], tmp_path, input=BAD)
    assert r.code == 1
    assert [line.split(":")[0] for line in r.lines] == ["pkg/model.py"] * 3, r
    anonymous = cli([*CHECK, "-"], tmp_path, input=BAD)
    assert anonymous.code == 1 and anonymous.lines[0].startswith("-:7:18: GS101"), anonymous
    clean = cli([*CHECK, "-", "--stdin-filename", "pkg/model.py"], tmp_path, input=GOOD)
    assert (clean.code, clean.stdout) == (0, "")


def test_stdin_filename_alone_reads_stdin(tmp_path):
    r = cli([*CHECK, "--stdin-filename", "editor.py"], tmp_path, input=BAD)
    assert r.code == 1 and r.lines[0].startswith("editor.py:7:18: GS101"), r


def test_stdin_filename_is_used_for_per_file_ignores(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.gradscan]\nselect = ["GS101", "GS107"]\nper-file-ignores = {"legacy/*.py" = ["GS101"]}\n')
    r = cli(["--no-cache", "-", "--stdin-filename", "legacy/model.py"], tmp_path, input=BAD)
    assert r.codes() == ["GS107"], r
    other = cli(["--no-cache", "-", "--stdin-filename", "new/model.py"], tmp_path, input=BAD)
    assert other.codes() == ["GS101", "GS101", "GS107"], other


def test_stdin_real_subprocess_bytes(tmp_path):
    """Bytes on the real standard input: a latin-1 buffer with its coding cookie, then garbage."""
    latin = ("# -*- coding: latin-1 -*-\n" + BAD.replace("import torch\n", "import torch  # caf\xe9\n", 1)).encode("latin-1")
    r = run([*CHECK, "-", "--stdin-filename", "m.py"], tmp_path, input=latin)
    assert r.code == 1 and r.lines[0].startswith("m.py:8:18: GS101"), r
    broken = run([*CHECK, "-", "--stdin-filename", "m.py"], tmp_path, input=b"x = 1\ny = '\xff'\n")
    assert broken.code == 1, broken
    assert broken.lines[0].startswith("m.py:2:6: GS001 cannot decode file as utf-8"), broken
    assert "Traceback" not in broken.stderr


def test_stdin_full_output_shows_the_buffer_not_the_file_on_disk(tmp_path):
    write(tmp_path, "m.py", GOOD)  # the saved file differs from the editor's buffer
    r = cli([*CHECK, "--output-format", "full", "-", "--stdin-filename", "m.py"], tmp_path, input=BAD)
    assert "        self.w = torch.randn(3, requires_grad=True)" in r.stdout, r


def test_stdin_force_exclude_skips_an_excluded_name(tmp_path):
    r = cli([*CHECK, "--force-exclude", "--stdin-filename", "build/gen.py", "-"], tmp_path, input=BAD)
    assert (r.code, r.stdout, r.stderr) == (0, "", ""), r
    kept = cli([*CHECK, "--stdin-filename", "build/gen.py", "-"], tmp_path, input=BAD)
    assert kept.code == 1, "without --force-exclude the name is checked, as in ruff"


def test_stdin_syntax_error(tmp_path):
    r = cli([*CHECK, "-", "--stdin-filename", "m.py"], tmp_path, input="def f(:\n    pass\n")
    assert r.code == 1 and r.lines == ["m.py:" + gs001("def f(:\n    pass\n")], r


# --- inputs it cannot handle are findings --------------------------------------------------

SYNTAX_SOURCE = "import torch\nx = torch.zeros(3, requires_grad=True)\ndef f(:\n    pass\n"
SYNTAX = gs001(SYNTAX_SOURCE)


def test_unreadable_inputs_are_findings_never_tracebacks(tmp_path):
    """The issue's "Done when": a folder with a syntax error, a latin-1 file with its coding
    cookie, an empty file, a BOM file and a binary file named x.py."""
    src = tmp_path / "src"
    write(src, "syntax.py", SYNTAX_SOURCE)
    write(src, "syntax_plain.py", "x = (1,\n")
    write(src, "latin1.py", ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD).encode("latin-1"))
    write(src, "empty.py", b"")
    write(src, "bom.py", b"\xef\xbb\xbf" + BAD.encode("utf-8"))
    write(src, "x.py", bytes(range(256)) * 4)
    write(src, "not_utf8.py", b"import torch\nname = 'caf\xe9'\n")
    write(src, "bad_cookie.py", b"# -*- coding: klingon -*-\nx = 1\n")
    write(src, "formfeed.py", BAD.replace("class Net", "\x0c\nclass Net").replace("        self.w.require_grad = False\n", ""))
    write(src, "crlf.py", BAD.replace("\n", "\r\n").encode("utf-8"))
    write(src, "good.py", BAD)
    for r in (cli([*CHECK, "src"], tmp_path), run([*CHECK, "src"], tmp_path)):
        assert r.code == 1, r
        assert "Traceback" not in r.stdout + r.stderr
        got = {(line.split(":")[0], ":".join(line.split(":")[1:3]), line.split(": ", 1)[1].split()[0]) for line in r.lines}
        assert got == {
            ("src/bad_cookie.py", "1:1", "GS001"),
            ("src/bom.py", "7:18", "GS101"), ("src/bom.py", "8:18", "GS101"), ("src/bom.py", "9:16", "GS107"),
            ("src/crlf.py", "7:18", "GS101"), ("src/crlf.py", "8:18", "GS101"), ("src/crlf.py", "9:16", "GS107"),
            ("src/formfeed.py", "8:18", "GS101"), ("src/formfeed.py", "9:18", "GS101"),
            ("src/good.py", "7:18", "GS101"), ("src/good.py", "8:18", "GS101"), ("src/good.py", "9:16", "GS107"),
            ("src/latin1.py", "9:18", "GS101"), ("src/latin1.py", "10:18", "GS101"), ("src/latin1.py", "11:16", "GS107"),
            ("src/not_utf8.py", "2:12", "GS001"),
            ("src/syntax.py", SYNTAX.split(": ")[0], "GS001"),
            ("src/syntax_plain.py", gs001("x = (1,\n").split(": ")[0], "GS001"),
            ("src/x.py", "1:1", "GS001"),
        }, r
    text = r.stdout
    assert "src/syntax.py:" + SYNTAX in text
    assert "src/syntax_plain.py:" + gs001("x = (1,\n") in text
    assert "src/x.py:1:1: GS001 file contains NUL bytes (binary file?)" in text
    assert "src/bad_cookie.py:1:1: GS001 cannot decode file: unknown encoding: klingon" in text


@pytest.mark.parametrize("source", [
    "def f(:\n    pass\n",
    "if True:\n    x = 1\n  y = 2\n",
    "s = 'abc\n",
    "x = (1,\n",
    "x = 1 +\n",
    "print 'hi'\n",
    "def f():\n\treturn 1\n        return 2\n",
    "class C:\npass\n",
    "f(**)\n",
    "x = [1, 2\ny = 3\n",
])
@pytest.mark.parametrize("with_trigger", [False, True], ids=["ast-only", "libcst"])
def test_syntax_error_position_is_pythons(tmp_path, source, with_trigger):
    """GS001 at the position Python reports, whether or not a rule needed the full parse."""
    if with_trigger:
        source = "import torch\nw = torch.zeros(3, requires_grad=True)\n" + source
    write(tmp_path, "m.py", source)
    try:
        compile(source, "m.py", "exec")
    except SyntaxError as exc:
        expected = f"m.py:{exc.lineno}:{max(exc.offset or 1, 1)}: GS001 syntax error: {exc.msg}"
    r = cli([*CHECK, "m.py"], tmp_path)
    assert r.lines == [expected], r


def _message(code: str) -> str:
    from gradscan.rules import REGISTRY

    return REGISTRY[code].message


# --- colour ------------------------------------------------------------------------------

ESC = "\x1b["


def _on_a_terminal(args, cwd, env_extra=None):
    """Run the real command with its standard output on a pseudo-terminal."""
    import os
    import pty
    import subprocess

    master, slave = pty.openpty()
    env = dict(os.environ, **(env_extra or {}))
    env.pop("NO_COLOR", None) if "NO_COLOR" not in (env_extra or {}) else None
    env.pop("FORCE_COLOR", None) if "FORCE_COLOR" not in (env_extra or {}) else None
    proc = subprocess.Popen([sys.executable, "-m", "gradscan", *args], cwd=cwd, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=300)
    return proc.returncode, b"".join(chunks).decode("utf-8")


@pytest.mark.parametrize("fmt", ["concise", "full"])
def test_color_auto_is_on_a_terminal_only_and_honours_no_color(tmp_path, fmt):
    write(tmp_path, "m.py")
    args = [*CHECK, "--output-format", fmt, "m.py"]
    code, shown = _on_a_terminal(args, tmp_path)
    assert code == 1 and f"{ESC}1mm.py:7:18{ESC}0m: {ESC}1;31mGS101{ESC}0m " in shown, shown
    assert ESC not in run(args, tmp_path).stdout, "a pipe gets no colour"
    assert ESC not in _on_a_terminal(args, tmp_path, {"NO_COLOR": "1", "FORCE_COLOR": "1"})[1]
    assert ESC not in _on_a_terminal([*args, "--color", "never"], tmp_path)[1]
    plain = run(args, tmp_path).stdout
    for forced in (run([*args, "--color", "always"], tmp_path).stdout, _forced(args, tmp_path)):
        assert ESC in forced
        assert re.sub(r"\x1b\[[0-9;]*m", "", forced) == plain, "colour adds styles, nothing else"


def _forced(args, cwd):
    import os
    import subprocess

    env = dict(os.environ, FORCE_COLOR="1", PYTHONIOENCODING="utf-8")
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "gradscan", *args], cwd=cwd, env=env, capture_output=True, text=True).stdout


def test_machine_formats_are_never_coloured(tmp_path):
    write(tmp_path, "m.py")
    for fmt in ("json", "github", "sarif"):
        assert ESC not in run([*CHECK, "--color", "always", "--output-format", fmt, "m.py"], tmp_path).stdout


# --- progress ------------------------------------------------------------------------------

def test_progress_line_waits_a_second_redraws_and_is_erased():
    import io

    from gradscan.reports.progress import Progress

    now = [0.0]
    out = io.StringIO()
    p = Progress(out, clock=lambda: now[0])
    p(10, 100)
    assert out.getvalue() == "", "nothing in the first second"
    now[0] = 2.0
    p(40, 100)
    assert out.getvalue() == "\r\x1b[Kchecking 40/100 files (20 files/s)"
    now[0] = 2.05
    p(41, 100)
    assert out.getvalue().count("checking") == 1, "at most ten redraws a second"
    p.close()
    assert out.getvalue().endswith("\r\x1b[K")


def _stderr_on_a_terminal(args, cwd, env_extra=None):
    import os
    import pty
    import subprocess

    master, slave = pty.openpty()
    env = dict(os.environ, **(env_extra or {}))
    env.pop("CI", None) if "CI" not in (env_extra or {}) else None
    import tempfile

    out = tempfile.TemporaryFile()  # not a pipe: a full pipe would block the child while we read stderr
    proc = subprocess.Popen([sys.executable, "-m", "gradscan", *args], cwd=cwd, stdout=out, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=600)
    out.seek(0)
    stdout = out.read().decode("utf-8")
    out.close()
    return proc.returncode, stdout, b"".join(chunks).decode("utf-8")


def test_progress_on_a_terminal_only(tmp_path):
    """A run long enough (well over a second of checking, one process) shows the line on a
    terminal's stderr, erased before the summary; a pipe, CI, -q and json never see it."""
    for i in range(150):
        write(tmp_path, f"src/m{i:03}.py", BAD)
    args = [*CHECK, "--jobs", "1", "src"]
    code, stdout, shown = _stderr_on_a_terminal(args, tmp_path, {"GRADSCAN_PROGRESS_DELAY": "0"})
    assert code == 1 and len(stdout.splitlines()) == 450
    assert re.search(r"\r\x1b\[Kchecking \d+/150 files \(\d+ files/s\)", shown), shown
    assert shown.endswith("\r\x1b[KFound 450 problems in 150 of 150 files.\r\n"), shown[-200:]
    assert "checking" not in run(args, tmp_path).stderr
    for more, env in ((["-q"], None), (["--output-format", "json"], None), ([], {"CI": "true"})):
        assert "checking" not in _stderr_on_a_terminal([*args, *more], tmp_path, env)[2], (more, env)

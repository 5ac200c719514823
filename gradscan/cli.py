"""The command line: a thin layer over the engine, with ruff's and flake8's conventions.

`gradscan [PATHS]` checks (the default command); `gradscan rules`, `gradscan explain CODE` and
`gradscan server` are subcommands. A subcommand name wins over a folder of the same name:
`gradscan ./rules` checks a folder called rules.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import click

from gradscan import __version__
from gradscan.config import ConfigError, Settings, settings_for

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the run stops (its workers killed, see gradscan.runner); the exit
    status is 128 + the signal's number, as a shell reports it (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.status = 128 + signum


def _interruptible(command):
    """Ctrl-C and SIGTERM end the command at once with status 130 or 143 and nothing on
    standard error: no traceback, no `Aborted!`, no noise from worker processes or finalizers."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        main_pid = os.getpid()

        def handler(signum, frame):
            if os.getpid() != main_pid:  # a worker forked before it set its own handlers
                os._exit(128 + signum)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            raise Interrupted(signum)

        try:
            old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals alone
            old = {}
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            # The runner has killed its workers; exiting without the interpreter's shutdown
            # skips the executor's exit hooks, which would wait for them and may print noise.
            os._exit(getattr(exc, "status", 130))
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    return wrapper


class DefaultGroup(click.Group):
    """A group whose first argument is a path unless it names a subcommand."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradscan")
def main() -> None:
    """gradscan: find code that silently breaks gradient flow in PyTorch, TensorFlow/Keras and JAX.

    \b
    gradscan [OPTIONS] [PATHS]...   check files (the default command; see `gradscan check --help`)
    gradscan rules                  list the rules
    gradscan explain GS201          print a rule's documentation
    """


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rules to enable, by code or prefix (GS2, GS201, ALL); replaces the default set.")
@click.option("--extend-select", multiple=True, help="Rules to enable in addition to the selection; how to turn on a rule that is off by default (--extend-select GS109).")
@click.option("--ignore", multiple=True, help="Rules to disable, by code or prefix.")
@click.option("--extend-ignore", multiple=True, help="Rules to disable in addition to the ignored ones.")
@click.option("--exclude", multiple=True, help="Glob patterns of files and folders to exclude (replaces the defaults).")
@click.option("--extend-exclude", multiple=True, help="Glob patterns to exclude in addition to the defaults.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Skip files ignored by .gitignore (default: on).")
@click.option("--force-exclude/--no-force-exclude", default=None, help="Apply excludes to files named on the command line too.")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Read settings from this pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--keras", type=click.Choice(["3", "legacy"]), help='Which Keras the project uses: "3" (default) or "legacy" (tf_keras).')
@click.option("--output-format", type=click.Choice(["concise", "full", "json", "github", "sarif"]), default="concise", show_default=True)
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the concise and full formats: auto is on a terminal only (NO_COLOR, FORCE_COLOR honoured).")
@click.option("--statistics", is_flag=True, help="Print a count per rule code and the total instead of the findings (JSON with --output-format json).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no summary line, no warning that no file matched.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` to every line with a finding (adopting gradscan on an existing codebase); prints no findings.")
@click.option("--disable-noqa", is_flag=True, help="Ignore `# noqa` and `# gradscan: skip-file` comments.")
@click.option("--stdin-filename", help="The name to report (and match per-file-ignores) for standard input.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the number of CPUs).")
@click.option("--no-cache", is_flag=True, help="Do not read or write .gradscan_cache/.")
@click.option("--file-budget", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Time one file's analysis may take (or 20x its parse time, if longer) before it is cut short "
                   "and reported as GS002 (default: 10; 0: no limit).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes in place, then report what remains.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and change nothing (exit 1 when there is something to fix).")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply fixes that may change behaviour beyond the gradient.")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of internal errors and the project root used.")
@_interruptible
def check_command(paths, select, extend_select, ignore, extend_ignore, exclude, extend_exclude, respect_gitignore,
                  force_exclude, config, isolated, keras, output_format, color, statistics, quiet, exit_zero, add_noqa, disable_noqa,
                  stdin_filename, jobs, no_cache, file_budget, fix, diff, unsafe_fixes, verbose) -> None:
    """Check PATHS (files or folders; default `.`; `-` reads standard input)."""
    if verbose:
        extend_select = (*extend_select, "GS003")  # -v also says where the analysis gave up
    try:
        settings = settings_for(config, isolated, select, extend_select, ignore, extend_ignore, exclude, extend_exclude,
                                respect_gitignore=respect_gitignore, force_exclude=force_exclude, keras=keras,
                                file_budget=file_budget)
    except ConfigError as exc:
        _fail(str(exc))

    from gradscan.files import SourceLines

    paths = list(paths)
    lines = SourceLines()
    if fix and diff:
        _fail("--fix and --diff cannot be used together (--diff changes nothing)")
    stdin = "-" in paths or (not paths and bool(stdin_filename))
    if (fix or diff) and stdin:
        _fail("--fix and --diff work on files, not on standard input (editors: use the language server's code actions)")
    force_exclude_given = settings.force_exclude
    if stdin:
        if len(paths) > 1:
            _fail("'-' (standard input) cannot be combined with other paths")
        findings, nfiles = _check_stdin(stdin_filename, settings, disable_noqa, lines, use_cache=not no_cache,
                                        verbose=verbose)
    else:
        paths = paths or ["."]
        for p in paths:
            if not Path(p).exists():
                _fail(f"{p}: no such file or folder")
        from gradscan.runner import describe_index, run

        if verbose:
            click.echo(f"gradscan: index: {describe_index(paths)}", err=True)
        from gradscan.reports import progress as progress_line

        shown = progress_line.Progress(sys.stderr) if progress_line.wanted(sys.stderr, output_format, quiet or add_noqa) else None
        try:
            result = run(paths, settings, jobs=jobs, disable_noqa=disable_noqa, use_cache=not no_cache, progress=shown)
        finally:
            if shown is not None:
                shown.close()
        findings, nfiles = result.findings, result.files
        if fix or diff:
            fixed = _apply_fixes(paths, settings, findings, unsafe_fixes, disable_noqa, not no_cache, write=fix)
            if diff:
                sys.exit(EXIT_FINDINGS if fixed else EXIT_CLEAN)
            if fixed:  # what remains, checked again (the files left alone come from the cache)
                result = run(paths, settings, jobs=jobs, disable_noqa=disable_noqa, use_cache=not no_cache)
                findings, nfiles = result.findings, result.files
            if fixed and not quiet:
                click.echo(f"Fixed {fixed} problem{'s' if fixed != 1 else ''}.", err=True)

    if add_noqa:
        if stdin:
            _fail("--add-noqa edits files: it cannot be combined with standard input")
        _add_noqa(findings, quiet)
        sys.exit(EXIT_CLEAN)
    internal = [f for f in findings if f.code == "GS000"]
    if not verbose:
        findings = [replace(f, detail=None) if f.detail else f for f in findings]
    from gradscan.reports import render, statistics as stats, summary, use_color

    colored = use_color(color, sys.stdout) and output_format in ("concise", "full") and not statistics
    click.echo(stats(findings, output_format) if statistics else render(output_format, findings, lines, color=colored),
               nl=False, color=colored)
    if quiet:
        pass
    elif nfiles == 0:
        # An empty folder, everything excluded, a mistyped path: a CI run that checks nothing
        # must not pass silently. (pre-commit naming only excluded files, or an editor asking
        # about an excluded buffer, is no mistake.)
        if not stdin and not (force_exclude_given and all(Path(p).is_file() for p in paths)):
            click.echo(f"gradscan: warning: no Python file matched {' '.join(paths)} (.py, .pyi and .ipynb files, "
                       "after excludes and .gitignore)", err=True)
    elif output_format in ("concise", "full") and not statistics:
        click.echo(summary(findings, nfiles), err=True)
    if internal:
        if verbose and output_format != "full":
            for f in internal:
                click.echo(f"{f.location()}: {f.code} {f.message}\n{f.detail or ''}".rstrip(), err=True)
        elif not verbose:
            click.echo(f"gradscan: {len(internal)} internal error{'s' if len(internal) != 1 else ''} (a bug in gradscan); "
                       "run with --verbose to see the traceback", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


def _add_noqa(findings, quiet: bool) -> None:
    """Write `# noqa` for every finding a rule made (not the engine's: a file that could not be
    read or checked, an unused noqa), each file only if its code is unchanged by the edit."""
    import ast

    from gradscan import noqa
    from gradscan.files.source import decode_python

    by_file = {}
    for f in findings:
        if not f.code.startswith("GS0"):
            by_file.setdefault(f.path, {}).setdefault(f.line, []).append(f.code)
    added = files = 0
    for path, wanted in sorted(by_file.items()):
        if path.endswith(".ipynb"):
            click.echo(f"gradscan: warning: {path}: --add-noqa does not edit notebooks; "
                       f"add `# noqa: CODE` to the lines of its {sum(map(len, wanted.values()))} findings by hand", err=True)
            continue
        file = Path(path)
        data = file.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            click.echo(f"gradscan: warning: {path}: --add-noqa edits UTF-8 files only; left as it is", err=True)
            continue
        new, changed = noqa.add_noqa(text, wanted)
        try:
            same = ast.dump(ast.parse(text)) == ast.dump(ast.parse(new))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            same = False
        if not changed:
            continue
        if not same:
            click.echo(f"gradscan: warning: {path}: adding `# noqa` would change the code; left as it is", err=True)
            continue
        file.write_bytes(new.encode("utf-8"))
        added += changed
        files += 1
    if not quiet:
        click.echo(f"Added {added} noqa comment{'s' if added != 1 else ''} to {files} file{'s' if files != 1 else ''}.", err=True)


def _apply_fixes(paths: List[str], settings: Settings, findings, unsafe: bool, disable_noqa: bool, use_cache: bool,
                 write: bool) -> int:
    """Fix the files whose findings have applicable fixes (`write` False: print their diff
    instead). Returns how many fixes were applied (or would be). A file that cannot be fixed
    safely is left alone with one line on standard error."""
    from gradscan.engine import check_source
    from gradscan.files.discovery import discover
    from gradscan.fixes import applicable, fix_file, unified_diff
    from gradscan.runner import index_for

    fixable = settings.fixable_codes()
    wanted = {f.path for f in applicable(findings, fixable, unsafe)}
    if not wanted:
        return 0
    files = [(p, d) for p, d in discover(paths, settings) if d in wanted]
    project = index_for(files, paths, settings, use_cache=use_cache)
    total = 0
    for file, display in files:
        result = fix_file(file, display, lambda text, path: check_source(text, path, settings, project=project,
                                                                         disable_noqa=disable_noqa),
                          fixable, unsafe, write=write)
        if result.error:
            click.echo(f"gradscan: {display}: {result.error}", err=True)
        if not write and result.changed:
            click.echo(unified_diff(result), nl=False)
        total += result.applied
    return total


def _fail(message: str) -> None:
    """A usage or configuration error: one line on standard error, exit status 2."""
    click.echo(f"gradscan: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _check_stdin(stdin_filename: Optional[str], settings: Settings, disable_noqa: bool, lines, use_cache: bool = True,
                 verbose: bool = False) -> tuple:
    """Check standard input, named `stdin_filename` in the output and for per-file-ignores.
    Without a name, the buffer is taken as a file of the current folder: its project's index
    still resolves base classes defined in other files."""
    from gradscan.engine import check_bytes
    from gradscan.files.discovery import display_path, is_excluded

    data = sys.stdin.buffer.read()
    if not stdin_filename:
        return check_bytes(data, "-", settings, project=_stdin_index(Path.cwd() / "<stdin>", settings, use_cache, verbose),
                           disable_noqa=disable_noqa), 1
    target = Path(stdin_filename)
    if settings.force_exclude and is_excluded(target, settings):
        return [], 0  # an editor asked about an excluded file: nothing to say
    name = display_path(target) if target.is_absolute() else target.as_posix()
    lines.preload(name, data)
    return check_bytes(data, name, settings, project=_stdin_index(target, settings, use_cache, verbose),
                       disable_noqa=disable_noqa), 1


def _stdin_index(target: Path, settings: Settings, use_cache: bool = True, verbose: bool = False):
    """Editors pass the buffer on stdin: index the project the named file belongs to (only its
    own folders when it is in no project, as for a file given by path)."""
    from gradscan.runner import describe_index, index_for

    target = target.absolute()
    if not target.parent.is_dir():
        return None
    if verbose:
        click.echo(f"gradscan: index: {describe_index([str(target)])}", err=True)
    return index_for([], [str(target)], settings, use_cache=use_cache)


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_command(fmt: str) -> None:
    """List every rule: code, name, framework, on by default or not, its fix (safe, unsafe, -), summary."""
    from gradscan.rules import all_rules

    rules = all_rules()
    if fmt == "json":
        import json

        click.echo(json.dumps([
            {"code": r.code, "name": r.name, "framework": r.framework, "default": bool(r.default_enabled),
             "severity": r.severity, "summary": r.summary, "facts": list(r.facts), "fix": r.fix_safety} for r in rules], indent=2))
        return
    width = max(len(r.name) for r in rules)
    for r in rules:
        state = "on " if r.default_enabled else "off"
        fix = r.fix_safety or "-"  # the fix the rule offers: safe, unsafe or none
        click.echo(f"{r.code}  {r.name:<{width}}  {r.framework:<10}  {state}  {fix:<6}  {r.summary}")


@main.command("explain")
@click.argument("code")
def explain_command(code: str) -> None:
    """Print a rule's documentation: `gradscan explain GS201` or `gradscan explain detach-in-forward`."""
    from gradscan.rules import REGISTRY

    by_name = {r.name: r for r in REGISTRY.values()}
    rule = REGISTRY.get(code.upper()) or by_name.get(code.lower())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(code.lower(), list(by_name), n=1)
        hint = f" (did you mean {close[0]!r}, {by_name[close[0]].code}?)" if close else " (see `gradscan rules`)"
        click.echo(f"gradscan: error: unknown rule code or name {code!r}{hint}", err=True)
        sys.exit(EXIT_ERROR)
    state = "on by default" if rule.default_enabled else f"off by default (enable with --extend-select {rule.code})"
    facts = f"\nFacts: {', '.join(rule.facts)} (docs/facts.md)" if rule.facts else ""
    fix = {"safe": "Fix: safe (applied by --fix)", "unsafe": "Fix: unsafe (applied by --fix --unsafe-fixes)"}.get(
        rule.fix_safety or "", "Fix: none")
    click.echo(f"# {rule.code} {rule.name} ({rule.framework}, {state})\n\n{rule.summary}.\n\n{rule.doc}\n{facts}\n{fix}".rstrip() + "\n")


@main.command("server")
def server_command() -> None:
    """Run the Language Server Protocol server over stdio (needs `pip install gradscan[lsp]`)."""
    try:
        from gradscan.integrations.lsp import serve
    except ImportError as exc:
        click.echo(f"gradscan: error: the language server needs pygls ({exc}); pip install 'gradscan[lsp]'", err=True)
        sys.exit(EXIT_ERROR)
    serve()

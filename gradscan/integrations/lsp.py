"""`gradscan server`: a Language Server Protocol server over stdio, built on pygls.

For editors that speak LSP (VS Code through a generic LSP client, Neovim's built-in client,
Helix, Zed, Emacs eglot/lsp-mode, Sublime LSP). It checks a Python document when it is opened
and when it is saved, publishes the findings as diagnostics (code, range, a link to the rule's
documentation), clears them when the document is closed, and answers hover requests over a
finding with the rule's documentation. Each finding whose rule computes a fix is offered as a
quick-fix code action (an unsafe fix says so in its title), and `source.fixAll.gradscan` applies
every safe fix the project's `fixable`/`unfixable` allow, pass by pass as `gradscan --fix` does.

Settings are gradscan's own: the nearest `pyproject.toml` with a `[tool.gradscan]` table above
the document (selection, per-file-ignores, rule options), as the command line reads them. A
broken table is shown to the user once (window/showMessage) and that document gets no
diagnostics until it is fixed. Notebooks are not served (use the command line or pre-commit).

Install the extra: `pip install 'gradscan[lsp]'`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from gradscan import __version__
from gradscan.config import ConfigError, Settings, find_config, load_config
from gradscan.findings import Finding
from gradscan.reports import severity
from gradscan.rules import REGISTRY

log = logging.getLogger(__name__)

PYTHON_SUFFIXES = (".py", ".pyi")
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


class GradscanLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("gradscan", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        # uri -> the diagnostics last published, with the finding behind each (for hover)
        self.published: Dict[str, List[Tuple[types.Diagnostic, Finding]]] = {}
        self.reported_config_errors: set = set()
        self.published_versions: Dict[str, Optional[int]] = {}  # uri -> the document version checked


server = GradscanLanguageServer()


def _is_python(document) -> bool:
    if document.language_id:
        return document.language_id == "python" and not (document.path or "").endswith(".ipynb")
    return (document.path or "").endswith(PYTHON_SUFFIXES)


def _settings_for(path: Path) -> Settings:
    config = find_config(path.parent)
    if config is None:
        return Settings(root=path.parent)
    return load_config(config)


def _workspace_roots(ls: LanguageServer) -> List[Path]:
    roots = []
    for folder in (ls.workspace.folders or {}).values():
        fs = _fs_path(folder.uri)
        if fs:
            roots.append(fs)
    if ls.workspace.root_path:
        roots.append(Path(ls.workspace.root_path))
    return roots


def _fs_path(uri: str) -> Optional[Path]:
    from pygls.uris import to_fs_path

    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def _project_index(ls: LanguageServer, path: Path, settings: Settings):
    """The class index of the document's project (cross-file base classes), as the command line
    builds it; cached on disk by gradscan, so rebuilding it on every save is cheap."""
    from gradscan.runner import index_for
    from gradscan.semantics.project import project_root

    if not path.parent.is_dir():
        return None
    root = project_root(path)
    if root is None:
        # No project marker: the workspace folder holding the file, else the file's folder (never
        # a walk of the whole home folder).
        inside = [r for r in _workspace_roots(ls) if r == path.parent or r in path.parents]
        root = max(inside, key=lambda r: len(r.parts)) if inside else path.parent
    try:
        return index_for([], [str(root)], settings)
    except OSError:
        return None


def _range(document, finding: Finding) -> types.Range:
    line, col = finding.line - 1, finding.col - 1
    end_line = (finding.end_line or finding.line) - 1
    end_col = (finding.end_col or finding.col) - 1
    if (end_line, end_col) <= (line, col):  # a point: mark one character so editors show it
        end_line, end_col = line, col + 1
    lines = document.lines
    if 0 <= line < len(lines):
        text = lines[line].rstrip("\r\n")
        if end_line == line:
            end_col = min(end_col, max(len(text), col))
    # gradscan counts code points; the client counts what it negotiated (UTF-16 by default).
    return document.range_to_client_units(types.Range(
        start=types.Position(line=max(line, 0), character=max(col, 0)),
        end=types.Position(line=max(end_line, 0), character=max(end_col, 0)),
    ))


def _diagnostic(document, finding: Finding) -> types.Diagnostic:
    rule = REGISTRY.get(finding.code)
    href = rule.url() if rule is not None and not rule.engine else None
    return types.Diagnostic(
        range=_range(document, finding),
        message=finding.message,
        severity=_SEVERITY[severity(finding.code)],  # the levels github and sarif print too
        code=finding.code,
        code_description=types.CodeDescription(href=href) if href else None,
        source="gradscan",
    )


def check_document(ls: GradscanLanguageServer, uri: str) -> None:
    from gradscan.engine import check_source_file
    from gradscan.files import SourceFile

    document = ls.workspace.get_text_document(uri)
    if not document.path or not _is_python(document):
        return
    path = Path(document.path)
    try:
        settings = _settings_for(path)
    except ConfigError as exc:
        message = f"gradscan: {exc}"
        if message not in ls.reported_config_errors:
            ls.reported_config_errors.add(message)
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
        _publish(ls, document, [])
        return
    source = SourceFile(path=str(path), text=document.source)
    try:
        findings = check_source_file(source, settings, project=_project_index(ls, path, settings))
    except Exception as exc:  # a bug in gradscan: say so on the document, keep serving
        log.exception("checking %s failed", path)
        findings = [Finding(str(path), 1, 1, "GS000", f"internal error while checking the file: {type(exc).__name__}: {exc}")]
    _publish(ls, document, findings)


def _publish(ls: GradscanLanguageServer, document, findings: List[Finding]) -> None:
    pairs = [(_diagnostic(document, f), f) for f in findings]
    ls.published[document.uri] = pairs
    ls.published_versions[document.uri] = document.version
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=document.uri, version=document.version, diagnostics=[d for d, _ in pairs]))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: GradscanLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    check_document(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
def did_save(ls: GradscanLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    check_document(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: GradscanLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.published_versions.pop(uri, None)
    if ls.published.pop(uri, None) is not None:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _contains(rng: types.Range, pos: types.Position) -> bool:
    start, end, at = (rng.start.line, rng.start.character), (rng.end.line, rng.end.character), (pos.line, pos.character)
    return start <= at <= end


def rule_markdown(code: str) -> str:
    rule = REGISTRY.get(code)
    if rule is None:
        return f"**{code}**"
    state = "on by default" if rule.default_enabled else "off by default"
    head = f"**{rule.code}** `{rule.name}` ({rule.framework}, {state})\n\n{rule.summary}."
    link = f"\n\n[Documentation]({rule.url()})" if not rule.engine else ""
    return f"{head}\n\n{rule.doc}{link}".rstrip()


FIX_ALL = types.CodeActionKind.SourceFixAll + ".gradscan"  # "source.fixAll.gradscan"


def _current_findings(ls: GradscanLanguageServer, document) -> List[Tuple[types.Diagnostic, Finding]]:
    """The findings of the document as it is now: those published, unless it changed since."""
    pairs = ls.published.get(document.uri)
    if pairs is not None and ls.published_versions.get(document.uri) == document.version:
        return pairs
    check_document(ls, document.uri)
    return ls.published.get(document.uri, [])


def _edit_range(document, line: int, col: int, end_line: int, end_col: int) -> types.Range:
    return document.range_to_client_units(types.Range(
        start=types.Position(line=line - 1, character=col - 1), end=types.Position(line=end_line - 1, character=end_col - 1)))


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and \
        (b.start.line, b.start.character) <= (a.end.line, a.end.character)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False))
def code_action(ls: GradscanLanguageServer, params: types.CodeActionParams) -> Optional[List[types.CodeAction]]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    if not document.path or not _is_python(document):
        return None
    only = params.context.only
    wants = (lambda kind: any(kind == k or kind.startswith(f"{k}.") for k in only)) if only else (lambda kind: True)
    actions: List[types.CodeAction] = []
    pairs = _current_findings(ls, document)
    if wants(types.CodeActionKind.QuickFix):
        for diag, finding in pairs:
            rule = REGISTRY.get(finding.code)
            if finding.fix is None or rule is None or rule.fix_safety is None or not _overlaps(diag.range, params.range):
                continue
            fx = finding.fix
            title = f"{fx.message} ({finding.code}{', unsafe' if rule.fix_safety != 'safe' else ''})"
            edit = types.TextEdit(range=_edit_range(document, fx.line, fx.col, fx.end_line, fx.end_col), new_text=fx.replacement)
            actions.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[diag],
                is_preferred=rule.fix_safety == "safe",
                edit=types.WorkspaceEdit(changes={document.uri: [edit]})))
    if wants(FIX_ALL) and any(f.fix is not None for _d, f in pairs):
        edit = _fix_all_edit(ls, document)
        if edit is not None:
            actions.append(types.CodeAction(title="gradscan: fix all safe fixes", kind=FIX_ALL,
                                            edit=types.WorkspaceEdit(changes={document.uri: [edit]})))
    return actions


def _fix_all_edit(ls: GradscanLanguageServer, document) -> Optional[types.TextEdit]:
    """One edit replacing the document's text by the text with every safe fix applied."""
    from gradscan.engine import check_source_file
    from gradscan.files import SourceFile
    from gradscan.fixes import fix_python_text

    path = Path(document.path)
    try:
        settings = _settings_for(path)
    except ConfigError:
        return None
    text = document.source
    project = _project_index(ls, path, settings)  # base classes from other files, as for diagnostics
    fixed, applied, error = fix_python_text(
        text, lambda t: check_source_file(SourceFile(path=str(path), text=t), settings, project=project),
        settings.fixable_codes(), False)
    if not applied or fixed == text:
        return None
    lines = document.lines
    end = types.Position(line=len(lines), character=0)
    return types.TextEdit(range=document.range_to_client_units(types.Range(start=types.Position(line=0, character=0), end=end)),
                          new_text=fixed)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: GradscanLanguageServer, params: types.HoverParams) -> Optional[types.Hover]:
    hits = [d for d, _ in ls.published.get(params.text_document.uri, []) if _contains(d.range, params.position)]
    if not hits:
        return None
    codes = list(dict.fromkeys(str(d.code) for d in hits))
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(rule_markdown(c) for c in codes)),
        range=hits[0].range,
    )


def serve() -> None:
    """Serve LSP over standard input and output until the client sends `exit`."""
    logging.basicConfig(level=logging.WARNING, format="gradscan server: %(levelname)s %(message)s")  # stderr
    server.start_io()


__all__ = ["serve", "server", "GradscanLanguageServer", "check_document", "code_action", "rule_markdown"]

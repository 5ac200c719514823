"""Reading the inputs: Python files, stubs and notebooks, turned into one source text each."""
from gradscan.files.source import SourceError, SourceFile, SourceLines, read_source, source_from_bytes, source_from_text, split_lines

__all__ = ["SourceFile", "SourceError", "SourceLines", "read_source", "source_from_bytes", "source_from_text", "split_lines"]

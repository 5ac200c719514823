"""Reading the inputs: Python files, stubs and notebooks, turned into one source text each."""
from gradscan.files.source import SourceFile, SourceError, read_source, source_from_text

__all__ = ["SourceFile", "SourceError", "read_source", "source_from_text"]

"""Python builtins (no framework): what a Python number passes through and stays a number."""

# `min(loss.item(), 1.0)` is still a Python number: these keep a number a number.
NUMBER_TO_NUMBER = frozenset({"min", "max", "abs", "pow", "round", "sum", "float", "int"})

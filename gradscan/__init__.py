"""gradscan: static analysis for deep-learning code that silently breaks gradient flow."""
__version__ = "0.1.0"


def check_source(*args, **kwargs):
    """Check one source text; see `gradscan.engine.check_source`."""
    from gradscan.engine import check_source as _check

    return _check(*args, **kwargs)


__all__ = ["check_source", "__version__"]

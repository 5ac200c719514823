"""GS0xx: what the engine itself reports. Registered for documentation and selection only."""
from gradscan.rules.engine import (  # noqa: F401 (importing a rule module registers its rule)
    gs000_internal_error,
    gs001_unreadable_file,
    gs002_analysis_cut_short,
    gs003_analysis_incomplete,
)

"""Where gradscan meets other tools: the flake8 plugin and the language server."""

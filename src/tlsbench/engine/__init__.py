"""The connection engine: a validated spec goes in, typed immutable events come out.

Nothing in this package imports Textual (a test enforces it); the CLI and the TUI are
thin front-ends over the events defined in `events.py`.
"""

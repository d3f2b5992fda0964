"""Messages the run worker posts to the UI thread (the worker never touches widgets)."""

from __future__ import annotations

from textual.message import Message


class EngineEvent(Message):
    """One engine event of run `run_id`, delivered on the UI thread."""

    def __init__(self, run_id: int, event) -> None:
        super().__init__()
        self.run_id = run_id
        self.event = event


class RunCrashed(Message):
    """The run ended with an unexpected exception (shown as a finding-like error line)."""

    def __init__(self, run_id: int, error: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.error = error


class RunRefused(Message):
    """OpenSSL refused a file the form named (CA file, certificate, key): mark that field."""

    def __init__(self, run_id: int, error) -> None:
        super().__init__()
        self.run_id = run_id
        self.error = error  # the InputError, with its `field`


class RunCaptured(Message):
    """The capture of run `run_id` (what its connections exchanged), for the workbench's save as pcapng."""

    def __init__(self, run_id: int, spec, captured) -> None:
        super().__init__()
        self.run_id = run_id
        self.spec = spec
        self.captured = captured

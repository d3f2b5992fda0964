"""Python's cyclic garbage collector held off while the workbench builds its first screen.

Start-up allocates some hundred thousand objects that live as long as the app (modules, classes,
the stylesheet, the widgets); each automatic collection walks them again, and a full one landing
before the first frame cost ~30 ms of CPU (bench/startup.py). Held from the CLI's launch until the
first screen is drawn, then the survivors are frozen (`gc.freeze`: later full collections skip them)
and collection resumes. Only a pause this module started is ended here: an app built by the tests
(`make_app().run_test()`) leaves the collector alone. What is frozen (~85,000 objects at the first
frame) is never collected, even if it later becomes garbage (the form's preview, once the fields
replace it): a bounded cost, paid once.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """Pause automatic collection (if it runs) until `release()`."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """End a pause `hold()` started; the objects alive now are kept out of later collections."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()

"""The STARTTLS registry knows every protocol's name without importing the dialogues
(hops/starttls/protocols.py WHERE), and those names are exactly the ones the modules register."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import tlsbench.engine.hops.starttls as package
from tlsbench.engine.hops.starttls import protocols
from tlsbench.engine.hops.starttls.base import REGISTRY


def test_where_names_each_registered_protocol_and_the_module_that_declares_it():
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")  # every module of the package, registered or not
    assert set(protocols.WHERE) == set(REGISTRY)
    for name, module in protocols.WHERE.items():
        assert REGISTRY[name].__module__ == f"{package.__name__}.{module}", name
    assert dict(protocols.DIALOGUES.items()) == {name: REGISTRY[name] for name in protocols.WHERE}


def test_a_protocol_named_imports_its_module_alone():
    code = ("import sys; from tlsbench.engine.hops.starttls.protocols import DIALOGUES, NAMES; "
            "assert 'smtp' in DIALOGUES and 'nope' not in DIALOGUES and len(NAMES) == len(DIALOGUES); "
            "before = {m for m in sys.modules if m.startswith('tlsbench.engine.hops.starttls.')}; "
            "cls = DIALOGUES['xmpp-server']; "
            "after = {m for m in sys.modules if m.startswith('tlsbench.engine.hops.starttls.')}; "
            "print(sorted(before)); print(sorted(after - before)); print(cls.protocol)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['tlsbench.engine.hops.starttls.protocols']"
    assert "tlsbench.engine.hops.starttls.xmpp" in out[1] and "tlsbench.engine.hops.starttls.smtp" not in out[1]
    assert out[2] == "xmpp-server"

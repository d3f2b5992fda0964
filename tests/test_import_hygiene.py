"""The probe path stays light: no Textual, PySocks only with a proxy; the engine never imports Textual."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tlsbench"

# Runs `tlsbench probe` in-process (stdout to a file), then reports which modules were loaded.
PROBE_AND_REPORT = """
import contextlib, io, json, sys
from tlsbench.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
json.loads(out.getvalue())
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'socks'))
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def probe_modules(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE_AND_REPORT, "probe", *args, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_direct_probe_imports_neither_textual_nor_socks(closed_port):
    report = probe_modules(closed_port.address)
    assert report["code"] == 1
    assert not [m for m in report["loaded"] if m.startswith(("textual", "socks"))], report["loaded"]


@pytest.mark.servers
def test_proxied_probe_imports_socks_but_not_textual(microsocks, closed_port):
    report = probe_modules(closed_port.address, "--socks5", microsocks.address, "--no-tls")
    assert report["code"] == 1  # the proxy's target is closed: proxy-target-refused
    assert "socks" in report["loaded"]
    assert not [m for m in report["loaded"] if m.startswith("textual")]


def test_importtime_of_the_probe_process_lists_no_textual(closed_port):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tlsbench", "probe", closed_port.address,
                           "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "tlsbench.engine.runner" in imported  # the report is real
    assert not [m for m in imported if m.split(".")[0] in ("textual", "socks")]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


@pytest.mark.parametrize("path", sorted((SRC / "engine").rglob("*.py")) + [
    SRC / "commands" / "probe.py", SRC / "commands" / "probe_output.py", SRC / "commands" / "arguments.py",
], ids=lambda p: str(p.relative_to(SRC)))
def test_no_textual_import_in_engine_or_probe(path):
    bad = {name for name in _imports(path) if name.split(".")[0] == "textual"}
    assert not bad, f"{path} imports {bad}"


def test_socks_is_imported_only_by_the_pysocks_adapter():
    users = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
             if "socks" in {n.split(".")[0] for n in _imports(p)} and "/lab/" not in p.as_posix()}
    assert users <= {"engine/hops/pysocks_adapter.py"}, users


def test_a_plain_probe_loads_no_diagnosis_modules(tls_server, lab_certs):
    server = tls_server("good")
    code = ("import sys; from tlsbench.cli import main; rc = main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m.startswith('tlsbench.engine.why')), file=sys.stderr); "
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "probe", f"localhost:{server.port}", "--cafile",
                           str(lab_certs.ca_cert), "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_an_address_is_read_without_the_idna_codec(closed_port):
    # The codec loads on first use (~1.5 ms): inside the resolve stage's clock it would be counted as
    # the lookup's time.
    code = ("import sys; from tlsbench.cli import main; rc = main(sys.argv[1:]); "
            "print('encodings.idna' in sys.modules, file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "probe", closed_port.address, "--no-tls", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["stages"][0]["name"] == "resolve"
    assert proc.stderr.strip().splitlines()[-1] == "False"


# What a plain, successful `probe --json` must not load: the diagnosis, a series, the STARTTLS dialogues
# (each imported only when named), the workbench, PySocks, and the libraries only some features use.
NOT_FOR_A_PLAIN_PROBE = ("tlsbench.commands.diagnose", "tlsbench.commands.repeat", "tlsbench.engine.why",
                         "tlsbench.engine.series", "tlsbench.engine.hops.starttls.base", "tlsbench.tui", "textual",
                         "rich", "socks", "dns", "aioquic", "h2", "tlsbench.profiles", "tlsbench.history")


def _loaded_by(*args: str) -> tuple[int, str, list[str]]:
    code = ("import sys; from tlsbench.cli import main; rc = main(sys.argv[1:]); "
            "print(' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "probe", *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr.strip().splitlines()[-1].split()


def _under(loaded: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.servers
def test_a_plain_probe_loads_only_what_its_run_needs(tls_server, lab_certs):
    server = tls_server("good")
    code, out, loaded = _loaded_by(f"localhost:{server.port}", "--cafile", str(lab_certs.ca_cert), "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    assert "tlsbench.engine.runner" in loaded and "cryptography.x509" in loaded  # the report is real
    assert _under(loaded, NOT_FOR_A_PLAIN_PROBE) == []
    dialogues = [m for m in loaded if m.startswith("tlsbench.engine.hops.starttls.")]
    assert dialogues == ["tlsbench.engine.hops.starttls.protocols"]  # the names, no dialogue


@pytest.mark.servers
def test_a_starttls_probe_loads_the_dialogues_it_reads(smtp_tls, lab_certs):
    """Named, a protocol's module is imported (the stage's tables read every declaration, to tell one
    greeting from another); still no diagnosis, workbench or PySocks."""
    code, _out, loaded = _loaded_by(smtp_tls.address, "--starttls", "smtp", "--cafile", str(lab_certs.ca_cert),
                                    "--json")
    assert code in (0, 1)
    dialogues = {m.rsplit(".", 1)[1] for m in loaded if m.startswith("tlsbench.engine.hops.starttls.")}
    assert {"smtp", "base", "driver"} <= dialogues
    assert _under(loaded, ("tlsbench.commands.diagnose", "textual", "socks")) == []


def test_every_module_imports_on_its_own():
    """Each module of the package imports in a fresh interpreter (an annotation naming a type imported
    only for the type checker, evaluated at definition time, is a NameError the type checker misses)."""
    import pkgutil

    import tlsbench

    names = [m.name for m in pkgutil.walk_packages(tlsbench.__path__, "tlsbench.") if not m.name.endswith("__main__")]
    code = ("import importlib, sys\nbad = []\nfor name in sys.argv[1:]:\n    try:\n        importlib.import_module(name)\n"
            "    except Exception as exc:\n        bad.append(f'{name}: {type(exc).__name__}: {exc}')\nprint('\\n'.join(bad))\n")
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""

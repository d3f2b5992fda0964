"""No secret leaves the process: every credential tlsbench was given, masked in what can be shown.

A secret is a proxy password (from `-U`/`--proxy-user`, a proxy URL's `user:pass@`, the environment
or a prompt; URLs of targets with credentials are refused before any run). `Redactor.of(spec)` knows
each one in every form it was sent in or could be echoed back in:

- raw (UTF-8, and Latin-1 when it differs), and percent-encoded (either hex case, `+` for a space);
- HTTP Basic: the base64 of `user:password`, the whole token (with and without its `=` padding);
- the SOCKS5 user/password sub-negotiation (RFC 1929), also with the length bytes PySocks writes
  for names of 128 bytes or more.

`redact_bytes()` copies a buffer with each occurrence replaced by MASK (`***`, whatever the secret's
length: the output does not even tell that). Text is searched for the forms as Latin-1/UTF-8 text
and as hex (no separator, or space or colon between bytes, either case); a form found as hex is
replaced by MASK's hex. A buffer cut short may end with the start of a form or begin with its end:
such a fragment of FRAGMENT characters or more at either edge is masked as well.

Parsers keep the exact bytes; the copy is made where bytes leave the engine: `run_probe` passes
every event and its result through `Redactor.value()`, and so do the enumeration and the diagnosis,
so every front-end (waterfall, -v/--msg, JSON, run files, history, the workbench and its clipboard)
gets masked data. TLS session secrets are not credentials: `--keylog` writes them on purpose.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Iterable, NamedTuple
from urllib.parse import quote, quote_plus

from tlsbench.engine.proxies import ProxySpec
from tlsbench.engine.spec import ConnectionSpec

_INPUTS = (ConnectionSpec, ProxySpec)
MASK = "***"
FRAGMENT = 4  # a piece of a form this long (in its own representation) at a buffer's edge is masked
# Record fields front-ends switch on (stage names, statuses, codes): never peer data, never masked.
STRUCTURAL = frozenset({"name", "status", "key", "code", "severity", "origin", "direction", "content_type",
                        "stage", "kind", "role", "family", "verify", "label"})


def _percent_forms(secret: bytes) -> set[bytes]:
    out = set()
    for safe in ("", "/"):
        upper = quote(secret, safe=safe).encode("ascii")
        out.add(upper)
        out.add(re.sub(rb"%[0-9A-F]{2}", lambda m: m.group(0).lower(), upper))
    out.add(quote_plus(secret).encode("ascii"))
    every = "".join(f"%{b:02X}" for b in secret).encode("ascii")  # each byte escaped, unreserved ones too
    out.update((every, every.lower()))
    return out


def _length(n: int) -> list[bytes]:
    """RFC 1929's one length byte, and what PySocks writes instead (chr(n).encode(): two bytes from 128)."""
    return list(dict.fromkeys([bytes([n & 0xFF]), chr(n).encode("utf-8")]))


def credential_forms(user: str | None, password: str) -> dict[bytes, int]:
    """Every byte form of one password (with its user) that tlsbench sends or a peer may echo, each with
    the offset where what depends on the password starts (what comes before is the user name's)."""
    forms: dict[bytes, int] = {}
    raws = [password.encode("utf-8")]
    try:
        raws.append(password.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    name = (user or "").encode("utf-8")
    for raw in raws:
        forms[raw] = 0
        forms.update(dict.fromkeys(_percent_forms(raw), 0))
        token = base64.b64encode(name + b":" + raw)
        # Base64 turns each 3 bytes into 4 characters: the first whole groups are the user's alone.
        forms.update(dict.fromkeys((token, token.rstrip(b"=")), 4 * ((len(name) + 1) // 3)))
        for ulen in _length(len(name)):
            for plen in _length(len(raw)):
                head = b"\x01" + ulen + name + plen
                forms[head + raw] = len(head)
    return {f: at for f, at in forms.items() if f}


class _Form(NamedTuple):
    """One pattern to find, what replaces it, and how much of it at a buffer's edge is masked."""

    pattern: Any  # bytes or str
    shown: Any
    prefix_min: int  # the start of the pattern this long at the end of a buffer is masked
    suffix_min: int  # its end this long at the start of a buffer


def _byte_form(form: bytes, secret_from: int) -> _Form:
    return _Form(form, MASK.encode("ascii"), max(FRAGMENT, secret_from + 1), FRAGMENT)


def _text_forms(form: bytes, secret_from: int) -> list[_Form]:
    """One byte form inside text: as Latin-1 and UTF-8 text, and as hex (no separator, space, colon)."""
    out = [_Form(form.decode("latin-1"), MASK, max(FRAGMENT, secret_from + 1), FRAGMENT)]
    try:
        text = form.decode("utf-8")
        head = len(form[:secret_from].decode("utf-8", "replace"))
        out.append(_Form(text, MASK, max(FRAGMENT, head + 1), FRAGMENT))
    except UnicodeDecodeError:
        pass
    mask = MASK.encode("ascii")
    for sep in ("", " ", ":"):
        width = 3 if sep else 2  # characters per byte
        hexed = form.hex(sep) if sep else form.hex()
        shown = mask.hex(sep) if sep else mask.hex()
        least = max(FRAGMENT, secret_from + 1) * width - len(sep)
        for case in (str.lower, str.upper):
            out.append(_Form(case(hexed), case(shown), least, FRAGMENT * width - len(sep)))
    return out


class _Patterns:
    """One alternation over a set of forms (longest first), and the masking of their pieces at the edges."""

    def __init__(self, forms: Iterable[_Form], empty: Any) -> None:
        self.forms = {f.pattern: f for f in sorted(forms, key=lambda f: -len(f.pattern))}
        self.regex = re.compile(empty.join(re.escape(p) for p in self.forms)) if self.forms else None
        # Every piece masked at an edge ends (or starts) with one of these: a quick screen.
        self.grams = {p[i:i + FRAGMENT] for p in self.forms for i in range(len(p) - FRAGMENT + 1)}

    def apply(self, data):
        if self.regex is None or not data:
            return data
        out = self.regex.sub(lambda m: self.forms[m.group(0)].shown, data)
        return self._edges(out)

    def _edges(self, data):
        """Mask the start of a form at the end of `data`, and the end of a form at its start."""
        if len(data) >= FRAGMENT and data[-FRAGMENT:] in self.grams:
            for form in self.forms.values():
                pattern = form.pattern
                for k in range(min(len(pattern) - 1, len(data)), form.prefix_min - 1, -1):
                    if data.endswith(pattern[:k]):
                        data = data[:-k] + form.shown
                        break
        if len(data) >= FRAGMENT and data[:FRAGMENT] in self.grams:
            for form in self.forms.values():
                pattern = form.pattern
                for k in range(min(len(pattern) - 1, len(data)), form.suffix_min - 1, -1):
                    if data.startswith(pattern[-k:]):
                        data = form.shown + data[k:]
                        break
        return data


class Redactor:
    """The secrets of one run, and the functions that mask them. `Redactor({})` masks nothing."""

    def __init__(self, forms: dict[bytes, int]) -> None:
        self.forms = dict(forms)  # each byte form, and where its secret part starts
        self._bytes = _Patterns((_byte_form(f, at) for f, at in self.forms.items()), b"|")
        self._text = _Patterns((t for f, at in self.forms.items() for t in _text_forms(f, at)), "|")

    @classmethod
    def of(cls, spec: Any) -> "Redactor":
        """The secrets a ConnectionSpec carries: each proxy hop's password."""
        return cls.of_credentials((getattr(hop, "username", None), getattr(hop, "password", None))
                                  for hop in getattr(spec, "proxies", ()) or ())

    @classmethod
    def of_credentials(cls, pairs: Iterable[tuple[str | None, str | None]]) -> "Redactor":
        forms: dict[bytes, int] = {}
        for user, password in pairs:
            if password:
                for form, at in credential_forms(user, password).items():
                    forms[form] = min(at, forms.get(form, at))
        return cls(forms)

    def __bool__(self) -> bool:
        return bool(self.forms)

    def __or__(self, other: "Redactor") -> "Redactor":
        return Redactor({**other.forms, **self.forms})

    def redact_bytes(self, data: bytes) -> bytes:
        """A copy of `data` with every form of every secret (and a fragment at either edge) masked."""
        return self._bytes.apply(bytes(data))

    def redact_text(self, text: str) -> str:
        """The same for text that holds bytes as text or as hex."""
        return self._text.apply(text)

    def value(self, value: Any) -> Any:
        """A copy of an engine record (event, result, detail, finding: NamedTuples, tuples, lists, dicts)
        with every str and bytes in it masked; the same object when nothing needed masking."""
        if not self.forms:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, (bytes, bytearray)):
            return self.redact_bytes(bytes(value))
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            if isinstance(value, _INPUTS):
                return value  # what was asked (a variant's spec): it holds the password to send, never shown
            changed = {}
            for name in value._fields:
                if name in STRUCTURAL:
                    continue
                old = getattr(value, name)
                new = self._walk(old)
                if new is not old and new != old:
                    changed[name] = new
            return value._replace(**changed) if changed else value  # type: ignore[attr-defined]
        if isinstance(value, (tuple, list)):
            items = [self._walk(v) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value
            return type(value)(items)
        if isinstance(value, dict):
            return {k: (v if k in STRUCTURAL else self._walk(v)) for k, v in value.items()}
        return value

    def data(self, value: Any) -> Any:
        """JSON-ready data (dicts, lists, str) with every string masked, keys and all: for a record
        about to be written, as a second guard behind `value()`."""
        if not self.forms:
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value

    def events(self, on_event):
        """`on_event` behind the mask: each event is masked before it is passed on."""
        if not self.forms:
            return on_event

        def emit(event: Any) -> None:
            on_event(self._walk(event))

        return emit

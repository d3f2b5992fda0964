"""No secret leaves the process: every credential tlsbench was given, masked in what can be shown.

A secret is a proxy password (from `-U`/`--proxy-user`, a proxy URL's `user:pass@`, the environment
or a prompt; URLs of targets with credentials are refused before any run). `Redactor.of(spec)` knows
each one in every form it was sent in or could be echoed back in:

- raw (UTF-8, and Latin-1 when it differs), and percent-encoded (either hex case, `+` for a space);
- HTTP Basic: the base64 of `user:password`, the whole token (with and without its `=` padding);
- the SOCKS5 user/password sub-negotiation (RFC 1929), also with the length bytes PySocks writes
  for names of 128 bytes or more.

`mask_in_place()` overwrites each whole form with bytes of the same length instead (a capture's
TCP stream keeps its sequence numbers: `--pcap`).

`redact_bytes()` copies a buffer with each occurrence replaced by MASK (`***`, whatever the secret's
length: the output does not even tell that). Text is searched for the forms as Latin-1/UTF-8 text
and as hex (no separator, or space or colon between bytes, either case); a form found as hex is
replaced by MASK's hex. A buffer cut short may end with the start of a form or begin with its end, and
a message may quote such a buffer: a start or an end of a form FRAGMENT bytes long or more is masked
wherever it is (a start only when it reaches past what encodes the user name alone).
A form shorter than SHORT bytes (a password like "p") cannot be masked inside every word and every
byte: it is masked in text where no letter or digit touches it, not in raw bytes or hex; its
longer forms (Basic, RFC 1929, which carry the user too) are masked everywhere.

Parsers keep the exact bytes; the copy is made where bytes leave the engine: `run_probe` passes
every event and its result through `Redactor.value()`, and so do the enumeration and the diagnosis,
so every front-end (waterfall, -v/--msg, JSON, run files, history, the workbench and its clipboard)
gets masked data. TLS session secrets are not credentials: `--keylog` writes them on purpose.
"""


import functools
import re
from typing import Any, Callable, Iterable, Iterator, NamedTuple
from urllib.parse import quote, quote_plus

from tlsbench.engine.route.proxies import ProxySpec
from tlsbench.engine.spec import ConnectionSpec

_INPUTS = (ConnectionSpec, ProxySpec)
MASK = "***"
SHORT = 4  # a form shorter than this (a password like "p") is masked only where it stands alone in text
FRAGMENT = 5  # a start or end of a form this long (in bytes; as hex, in the bytes it encodes) is masked
# Record fields front-ends switch on (stage names, statuses, codes): never peer data, never masked.
STRUCTURAL = frozenset({"name", "status", "key", "code", "severity", "origin", "direction", "content_type",
                        "stage", "kind", "role", "family", "verify", "label", "version"})


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


def _password_forms(user: str | None, password: str) -> Iterator[tuple[bytes, int, bytes]]:
    """Every byte form of one password (with its user) that tlsbench sends or a peer may echo: the
    form, the offset where what depends on the password starts (what comes before is the user name's),
    and what overwrites it in place (bytes of the same length, the user's part kept)."""
    import base64  # only with a password: a probe without one does not pay for it

    raws = [password.encode("utf-8")]
    try:
        raws.append(password.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    name = (user or "").encode("utf-8")
    for raw in raws:
        stars = b"*" * len(raw)
        yield raw, 0, stars
        for form in _percent_forms(raw):
            yield form, 0, b"*" * len(form)
        # Base64 turns each 3 bytes into 4 characters: the first whole groups are the user's alone. The
        # same user with a password of stars gives a token of the same length, padding and all.
        token, masked = base64.b64encode(name + b":" + raw), base64.b64encode(name + b":" + stars)
        at = 4 * ((len(name) + 1) // 3)
        yield token, at, masked
        yield token.rstrip(b"="), at, masked.rstrip(b"=")
        for ulen in _length(len(name)):
            for plen in _length(len(raw)):
                head = b"\x01" + ulen + name + plen
                yield head + raw, len(head), head + stars


def credential_forms(user: str | None, password: str) -> dict[bytes, int]:
    """Every byte form of one password (with its user), each with the offset where what depends on the
    password starts."""
    forms = {form: at for form, at, _mask in _password_forms(user, password)}
    return {f: at for f, at in forms.items() if f}


def credential_masks(user: str | None, password: str) -> dict[bytes, bytes]:
    """The byte forms of one password long enough to be found in raw bytes (`credential_forms`' whole
    forms), each with what overwrites it in place: bytes of the same length, the user's part kept. A
    capture's TCP stream then stays whole (every sequence number holds), and Wireshark shows
    `user:*****` in a Basic token and the RFC 1929 request with its length bytes intact."""
    out = {form: mask for form, _at, mask in _password_forms(user, password)}
    return {form: mask for form, mask in out.items() if len(form) >= SHORT and form != mask}


class _Form(NamedTuple):
    """One pattern to find, what replaces it, and how much of it at a buffer's edge is masked."""

    pattern: Any  # bytes or str
    shown: Any
    prefix_min: int  # the start of the pattern this long at the end of a buffer is masked
    suffix_min: int  # its end this long at the start of a buffer
    alone: bool = False  # too short to mask inside words: only where no letter or digit touches it


def _byte_forms(form: bytes, secret_from: int) -> list[_Form]:
    """One form inside raw bytes (a short one is not looked for there: it would hit any binary data)."""
    if len(form) < SHORT:
        return []
    return [_Form(form, MASK.encode("ascii"), max(FRAGMENT, secret_from + 1), FRAGMENT)]


def _text_forms(form: bytes, secret_from: int) -> list[_Form]:
    """One byte form inside text: as Latin-1 and UTF-8 text, and as hex (no separator, space, colon).
    A form shorter than SHORT bytes is looked for as text standing alone, and not as hex."""
    alone = len(form) < SHORT
    out = [_Form(text, MASK, max(FRAGMENT, head + 1), FRAGMENT, alone) for text, head in _decoded(form, secret_from)]
    if alone:
        return out
    # As Python quotes it in a message ({data!r}): escapes for backslashes, quotes, control and (in
    # bytes) non-ASCII characters.
    for quoted, head in ((repr(form)[2:-1], len(repr(form[:secret_from])) - 3),
                         *((repr(t)[1:-1], len(repr(t[:h])) - 2) for t, h in _decoded(form, secret_from))):
        if not any(quoted == f.pattern for f in out):
            out.append(_Form(quoted, MASK, max(FRAGMENT, head + 1), FRAGMENT))
    mask = MASK.encode("ascii")
    for sep in ("", " ", ":"):
        width = 3 if sep else 2  # characters per byte
        hexed = form.hex(sep) if sep else form.hex()
        shown = mask.hex(sep) if sep else mask.hex()
        least = max(FRAGMENT, secret_from + 1) * width - len(sep)
        for case in (str.lower, str.upper):
            out.append(_Form(case(hexed), case(shown), least, FRAGMENT * width - len(sep)))
    return out


def _decoded(form: bytes, secret_from: int) -> list[tuple[str, int]]:
    """The form as Latin-1 and as UTF-8 text, each with where its secret part starts."""
    out = [(form.decode("latin-1"), secret_from)]
    try:
        out.append((form.decode("utf-8"), len(form[:secret_from].decode("utf-8", "replace"))))
    except UnicodeDecodeError:
        pass
    return out


class _Patterns:
    """One alternation over a set of forms (longest first), and the masking of their pieces: wherever a
    buffer was cut (at its edges, or inside a message that quotes a cut buffer), what is left of a form
    is its start or its end."""

    def __init__(self, forms: Iterable[_Form], empty: Any) -> None:
        self.forms = {f.pattern: f for f in sorted(forms, key=lambda f: -len(f.pattern))}
        whole = [re.escape(p) for p, f in self.forms.items() if not f.alone]
        alone = [re.escape(p) for p, f in self.forms.items() if f.alone]
        if alone:  # a short password: not inside a word ("p" in "password")
            guarded = r"(?<![A-Za-z0-9])(?:{})(?![A-Za-z0-9])"
            whole.append(guarded.encode("ascii").replace(b"{}", empty.join(alone)) if isinstance(empty, bytes)
                         else guarded.replace("{}", empty.join(alone)))
        self.regex = re.compile(empty.join(whole)) if whole else None
        # The shortest start and end of each form that is masked; a match grows as far as the form goes.
        self.starts: dict[Any, list[_Form]] = {}
        self.ends: dict[Any, list[_Form]] = {}
        for form in self.forms.values():
            pattern = form.pattern
            if len(pattern) > form.prefix_min:
                self.starts.setdefault(pattern[:form.prefix_min], []).append(form)
            if len(pattern) > form.suffix_min:
                self.ends.setdefault(pattern[-form.suffix_min:], []).append(form)
        pieces = sorted(set(self.starts) | set(self.ends), key=len, reverse=True)
        self.trigger = re.compile((b"(?=(" if isinstance(empty, bytes) else "(?=(")
                                  + empty.join(re.escape(p) for p in pieces)
                                  + (b"))" if isinstance(empty, bytes) else "))")) if pieces else None

    def apply(self, data: Any, keep: Iterable[Any] = ()) -> Any:  # str in, str out; bytes in, bytes out
        if self.regex is None or not data:
            return data
        out = self.regex.sub(lambda m: self.forms[m.group(0)].shown, data)
        if not self.starts and not self.ends:
            return out
        return self._pieces(out, keep)

    def _pieces(self, data: Any, keep: Iterable[Any]) -> Any:
        """Mask every start (at least prefix_min long) and every end (suffix_min) of a form, anywhere,
        but inside what the user gave and is no secret (`keep`: "via-squid" for "squid-secret")."""
        spans: list[tuple[int, int, Any]] = []
        for match in self.trigger.finditer(data):  # type: ignore[union-attr]
            at, piece = match.start(), match.group(1)
            for form in self.starts.get(piece, ()):
                pattern, end = form.pattern, at + len(piece)
                while end < len(data) and end - at < len(pattern) and \
                        data[end:end + 1] == pattern[end - at:end - at + 1]:
                    end += 1
                spans.append((at, end, form.shown))
            for form in self.ends.get(piece, ()):
                pattern, begin, left = form.pattern, at, len(form.pattern) - len(piece)
                while begin > 0 and left > 0 and data[begin - 1:begin] == pattern[left - 1:left]:
                    begin, left = begin - 1, left - 1
                spans.append((begin, at + len(piece), form.shown))
        if spans and keep:
            kept = [(at, at + len(k)) for k in keep for at in _occurrences(data, k)]
            spans = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in kept)]
        if not spans:
            return data
        spans.sort(key=lambda s: (s[0], -s[1]))
        out, done = [], 0
        for begin, end, shown in spans:
            if end <= done:
                continue
            if begin < done:  # overlaps the previous piece: the mask there already covers up to `done`
                begin = done
            else:
                out += [data[done:begin], shown]
            done = end
        out.append(data[done:])
        return data[:0].join(out)


def _occurrences(data: Any, part: Any) -> Iterable[int]:
    at = data.find(part)
    while at >= 0:
        yield at
        at = data.find(part, at + 1)


def given_strings(value: Any) -> set[str]:
    """Every string of a spec but its passwords: host names, users, paths, what to send (no secret)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {s for name in value._fields if name != "password" for s in given_strings(getattr(value, name))}
    if isinstance(value, (tuple, list)):
        return {s for v in value for s in given_strings(v)}
    return set()


class Redactor:
    """The secrets of one run, and the functions that mask them. `Redactor({})` masks nothing."""

    def __init__(self, forms: dict[bytes, int], masks: dict[bytes, bytes] | None = None) -> None:
        self.forms = dict(forms)  # each byte form, and where its secret part starts
        self.masks = dict(masks or {})  # each whole form found in raw bytes, and its same-length mask
        self._in_place: Any = None  # the masks' alternation, made when first asked for
        self.keep: tuple[str, ...] = ()  # given strings no piece is masked inside (a whole form still is)
        self._keep_bytes: tuple[bytes, ...] = ()
        self._bytes = _Patterns((b for f, at in self.forms.items() for b in _byte_forms(f, at)), b"|")
        self._text = _Patterns((t for f, at in self.forms.items() for t in _text_forms(f, at)), "|")

    @classmethod
    def of(cls, spec: Any) -> "Redactor":
        """The secrets a ConnectionSpec carries: each proxy hop's password."""
        mask = cls.of_credentials((getattr(hop, "username", None), getattr(hop, "password", None))
                                  for hop in getattr(spec, "proxies", ()) or ())
        return mask.keeping(given_strings(spec)) if mask else mask

    def keeping(self, strings: Iterable[str]) -> "Redactor":
        """The same mask, leaving pieces inside these strings (the user's own, no secret) alone."""
        import copy

        out = copy.copy(self)
        out.keep = tuple(sorted({*self.keep, *(s for s in strings if len(s) >= FRAGMENT)}))
        out._keep_bytes = tuple(s.encode("utf-8") for s in out.keep)
        return out

    @classmethod
    def of_credentials(cls, pairs: Iterable[tuple[str | None, str | None]]) -> "Redactor":
        """The mask for these (user, password) pairs (made once per set: a series runs one spec many times)."""
        return _redactor(tuple((user, password) for user, password in pairs if password))

    def __bool__(self) -> bool:
        return bool(self.forms)

    def __or__(self, other: "Redactor") -> "Redactor":
        return Redactor({**other.forms, **self.forms}, {**other.masks, **self.masks}).keeping(self.keep + other.keep)

    def redact_bytes(self, data: bytes) -> bytes:
        """A copy of `data` with every form of every secret (and a fragment at either edge) masked."""
        return self._bytes.apply(bytes(data), self._keep_bytes)

    def mask_in_place(self, data: bytes) -> bytes:
        """A copy of `data` of the same length, every whole form of every secret overwritten by its mask
        (`credential_masks`): for bytes whose positions matter, a capture's TCP stream. Pieces of a form
        at a buffer's edge are not looked for: give the whole stream of one direction at once."""
        regex = self._masks_regex()
        out = bytes(data)
        for _ in range(4):  # again: a user name that holds the password is left by its longer form's mask
            if regex is None or not regex.search(out):
                break
            out = regex.sub(lambda m: self.masks[m.group(0)], out)
        return out

    def found_in(self, data: bytes) -> bool:
        """Whether `data` holds a whole form of a secret (the forms `mask_in_place` overwrites)."""
        regex = self._masks_regex()
        return regex is not None and regex.search(data) is not None

    def _masks_regex(self) -> Any:
        if self._in_place is None and self.masks:
            self._in_place = re.compile(b"|".join(re.escape(f) for f in sorted(self.masks, key=len, reverse=True)))
        return self._in_place

    def redact_text(self, text: str) -> str:
        """The same for text that holds bytes as text or as hex."""
        return self._text.apply(text, self.keep)

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

    def events(self, on_event: Callable[[Any], None]) -> Callable[[Any], None]:
        """`on_event` behind the mask: each event is masked before it is passed on."""
        if not self.forms:
            return on_event

        def emit(event: Any) -> None:
            on_event(self._walk(event))

        return emit


@functools.lru_cache(maxsize=16)
def _redactor(pairs: tuple[tuple[str | None, str], ...]) -> Redactor:
    forms: dict[bytes, int] = {}
    masks: dict[bytes, bytes] = {}
    for user, password in pairs:
        for form, at in credential_forms(user, password).items():
            forms[form] = min(at, forms.get(form, at))
        masks.update(credential_masks(user, password))
    return Redactor(forms, masks)

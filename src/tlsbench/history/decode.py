"""Reading one history line back: a typed decode, so readers only ever meet well-typed records.

A line is read only when it is at most MAX_LINE bytes, nests at most MAX_DEPTH levels (checked on
the text, before json sees it), is JSON with finite numbers only, and every field a reader uses has
its type: the record's own keys, the connection (as the profile codec writes it: tables of plain
values), and in the result the stages, socket, chain and findings (types as `probe --json` writes
them). Keys a later tlsbench may add are kept and not checked; a known key of the wrong type makes
the line unreadable (skipped and counted by the store), never an AttributeError in a comparison.

    record = decode_line(raw)     # dict, or raises BadRecord(reason)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from tlsbench.file_limits import MAX_DEPTH, MAX_LINE, json_problem
from tlsbench.history.record import SOURCES, VERSION

__all__ = ["BadRecord", "decode_line", "decode_record"]


class BadRecord(ValueError):
    """A line that is not a well-typed record; the message says what is wrong with it."""


# A spec is a type (or tuple of types), or one of the small classes below.
class Opt:
    """The value may also be null."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec


class ListOf:
    def __init__(self, spec: Any) -> None:
        self.spec = spec


class Obj:
    """An object whose listed keys have these types when present (`required` ones must be); other keys
    are kept unchecked (`closed`: refused)."""

    def __init__(self, fields: dict[str, Any], required: tuple[str, ...] = (), closed: bool = False) -> None:
        self.fields, self.required, self.closed = fields, required, closed


class OneOf:
    def __init__(self, *values: Any) -> None:
        self.values = values


class Plain:
    """Profile data: strings, numbers, booleans, lists of them, and (`tables` deep) tables of them."""

    def __init__(self, tables: int) -> None:
        self.tables = tables


NUMBER = "number"  # int or float, never a bool (json gives only finite ones here: see _finite)
STAGE = Obj({"name": str, "index": Opt(int), "proxy": Opt(str), "local": bool, "status": str,
             "started_ms": Opt(NUMBER), "duration_ms": Opt(NUMBER), "summary": Opt(str), "detail": Opt(dict)},
             required=("name", "status"))
SOCKET = Obj({"local_address": Opt(str), "local_port": Opt(int), "peer_address": Opt(str), "peer_port": Opt(int),
              "family": Opt(str), "via_proxy": bool, "ephemeral_range": Opt(ListOf(int)), "tcp_info": Opt(dict)})
FINDING = Obj({"code": str, "severity": str, "title": str, "explanation": str, "suggestion": Opt(str),
               "suggestion_changes": list, "stage": Opt(str), "origin": Opt(str), "evidence": ListOf(dict)},
              required=("code",))
CERT = Obj({"sha256": Opt(str)})
RESULT = Obj({"schema": int, "ok": bool, "target": str, "total_ms": Opt(NUMBER), "cancelled": bool,
              "options": Opt(dict), "stages": ListOf(STAGE), "socket": Opt(SOCKET), "tls": Opt(dict),
              "chain": ListOf(CERT), "chain_verification": Opt(dict), "chain_verified": ListOf(dict),
              "certificate_transparency": Opt(dict), "revocation": Opt(dict), "findings": ListOf(FINDING)},
             required=("ok", "stages"))
CONNECTION = Obj({"host": str, "port": int, "description": str, "proxy": (dict, list)}, required=("host", "port"))
RECORD = Obj({"v": OneOf(VERSION), "at": str, "profile": str, "source": OneOf(*SOURCES), "connection": Plain(2),
              "result": RESULT}, required=("v", "at", "profile", "source", "connection", "result"))
_TYPE_WORDS = {str: "a string", int: "a whole number", bool: "true or false", dict: "an object", list: "a list",
               float: "a number"}


def decode_line(raw: bytes) -> dict[str, Any]:
    """The record on one line of a history file (without its newline); BadRecord says why it is not one."""
    if len(raw) > MAX_LINE:
        raise BadRecord(f"{len(raw)} bytes, more than a history line may be ({MAX_LINE})")
    problem = json_problem(raw, limit=MAX_DEPTH)  # on the bytes: no copy decoded for it
    if problem is not None:
        raise BadRecord(problem)
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")  # an editor's byte-order mark on line 1
    except UnicodeDecodeError:
        raise BadRecord("not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise BadRecord(f"not JSON ({str(exc)[:80]})") from None
    if _SURROGATE_ESCAPE.search(raw):  # \ud800 alone decodes to a str that cannot be printed or written
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadRecord("holds a lone surrogate (\\ud800-\\udfff): not text") from None
    return decode_record(value)


def decode_record(value: Any) -> dict[str, Any]:
    """`value` (what json.loads gave) when it is a well-typed record; BadRecord otherwise."""
    try:
        _CHECK_RECORD(value)
        try:
            _CHECK_CONNECTION(value["connection"])
        except _Wrong as exc:
            exc.path.append(".connection")
            raise
    except _Wrong as exc:
        raise BadRecord(f"record{''.join(reversed(exc.path))}: {exc.message}") from None
    proxy = value["connection"].get("proxy")
    if isinstance(proxy, list) and not all(isinstance(hop, dict) for hop in proxy):
        raise BadRecord("record.connection.proxy: each hop must be an object")
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constant(word: str) -> float:
    raise ValueError(f"{word} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is too large a number")
    return number


class _Wrong(Exception):
    """A value of the wrong type; `path` is filled in on the way out (never built for good records)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []  # innermost first


def _compile(spec: Any) -> Callable[[Any], None]:
    """A checker for `spec`, built once: json.loads gives exact types, so `type(v) in …` says it all
    (and keeps a bool out of a number)."""
    if isinstance(spec, Opt):
        inner = _compile(spec.spec)

        def check(value: Any) -> None:
            if value is not None:
                inner(value)
    elif isinstance(spec, Obj):
        # Plain-typed fields are checked inline (a call per field would double the cost of a read).
        simple = {key: _exact(item) for key, item in spec.fields.items() if _exact(item) is not None}
        nested = {key: _compile(item) for key, item in spec.fields.items() if key not in simple}
        required, closed = spec.required, spec.closed

        def check(value: Any) -> None:
            if type(value) is not dict:
                raise _Wrong("expected an object")
            for key in required:
                if key not in value:
                    raise _Wrong(f"{key}: missing")
            for key, item in value.items():
                kinds = simple.get(key)
                if kinds is not None:
                    if type(item) not in kinds:
                        exc = _Wrong(f"expected {_words(kinds)}")
                        exc.path.append(f".{key}")
                        raise exc
                    continue
                field_check = nested.get(key)
                if field_check is not None:
                    try:
                        field_check(item)
                    except _Wrong as exc:
                        exc.path.append(f".{key}")
                        raise
                elif closed:
                    raise _Wrong(f"{str(key)[:40]!r} is not a key of it")
    elif isinstance(spec, ListOf):
        element = _compile(spec.spec)

        def check(value: Any) -> None:
            if type(value) is not list:
                raise _Wrong("expected a list")
            for i, item in enumerate(value):
                try:
                    element(item)
                except _Wrong as exc:
                    exc.path.append(f"[{i}]")
                    raise
    elif isinstance(spec, OneOf):
        values = spec.values

        def check(value: Any) -> None:
            if not any(type(value) is type(v) and value == v for v in values):
                raise _Wrong(f"expected one of {', '.join(map(repr, values))}")
    elif isinstance(spec, Plain):
        tables = spec.tables

        def check(value: Any) -> None:
            _check_plain(value, tables)
    else:
        exact = _exact(spec)
        assert exact is not None, spec

        def check(value: Any) -> None:
            if type(value) not in exact:
                raise _Wrong(f"expected {_words(exact)}")
    return check


def _exact(spec: Any) -> frozenset[type] | None:
    """The exact types a plain spec allows (Opt of a plain one allows None too); None for any other."""
    if isinstance(spec, Opt):
        inner = _exact(spec.spec)
        return None if inner is None else inner | {type(None)}
    if spec == NUMBER:
        return frozenset((int, float))
    if isinstance(spec, type):
        return frozenset((spec,))
    if isinstance(spec, tuple) and all(isinstance(k, type) for k in spec):
        return frozenset(spec)
    return None


def _words(kinds: frozenset[type]) -> str:
    if {int, float} <= kinds:
        kinds = kinds - {int, float} | {float}
    words = sorted(_TYPE_WORDS.get(k, "null") for k in kinds if k is not type(None))
    return " or ".join(words) + (" or null" if type(None) in kinds else "")


_CHECK_RECORD, _CHECK_CONNECTION = _compile(RECORD), _compile(CONNECTION)


def _check_plain(value: Any, tables: int) -> None:
    """An object of plain values (a profile's data): tables `tables` deep, lists of plain values."""
    if not isinstance(value, dict):
        raise _Wrong("expected an object")
    for key, item in value.items():
        try:
            if isinstance(item, dict) and tables > 1:
                _check_plain(item, tables - 1)
            elif isinstance(item, list):
                for element in item:
                    if isinstance(element, dict) and tables > 1:
                        _check_plain(element, tables - 1)
                    elif isinstance(element, (dict, list)) or element is None:
                        raise _Wrong("a list of plain values or tables expected")
            elif isinstance(item, (dict, list)) or item is None:
                raise _Wrong("a plain value expected")
        except _Wrong as exc:
            exc.path.append(f".{str(key)[:40]}")
            raise

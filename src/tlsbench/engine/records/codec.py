"""A typed JSON codec for the engine's records (NamedTuples), for files that leave the process.

    codec = RecordCodec([Finding, Evidence, ...])
    data = codec.encode(value)            # JSON-ready: dicts, lists, str, int, float, bool, None
    value = codec.decode(data, "events")  # the same objects again, or DecodeError naming the path

The JSON shape (readable with jq, and exact on the way back):

* a record is an object whose `"$"` names its type, one key per field: `{"$": "Evidence", "label": ..., "value": ...}`;
  a field left out has its default value (fields at their default are not written);
* a tuple is an array (records hold tuples, not lists); a list is `{"$": "list", "items": [...]}`;
* bytes are `{"$": "bytes", "base64": "..."}`; a float that JSON cannot hold (nan, inf) is
  `{"$": "float", "value": "nan"}`; a dict is an object with string keys (never a key `"$"`).

Decoding reads the other side of that, and only that: a record type outside the fixed registry
given to the codec, an unknown or missing field, or a field whose value does not match the field's
annotation (`str | None`, `tuple[CertInfo, ...]`, `Literal["sent", "received"]`, ...) is a
DecodeError naming the path to the value (`events[3].record.detail.certificates[0].days_left`).
Nothing is ever imported or called by name from the data: the registry is a dict of classes.
"""

from __future__ import annotations

import base64
import binascii
import math
import types
from collections.abc import Callable, Iterable
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

JSON = Any  # what json.dumps takes / json.loads gives

MAX_DEPTH = 64  # arrays and objects nested deeper than this are refused (no record needs more than ~10)

# A field annotation that accepts any registered record (or None): the engine's StageDetail union is
# open in practice (the starttls, reconnect and revocation stages carry details of their own).
ANY_RECORD: object = object()


class EncodeError(ValueError):
    """A value the format cannot hold (a record type outside the registry, a dict with odd keys)."""


class DecodeError(ValueError):
    """Data that is not what the format says; `path` is where (e.g. `events[2].record.status`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'the value'}: {message}")
        self.path = path
        self.message = message


def _kind(data: JSON) -> str:
    """What a JSON value is, in words, for error messages."""
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, dict):
        tag = data.get("$")
        return f"a {tag} record" if isinstance(tag, str) and tag[:1].isupper() else "an object"
    return type(data).__name__


def _described(value: Any) -> str:
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return f"a {type(value).__name__} record"
    if isinstance(value, tuple):
        return "a list"
    if isinstance(value, list):
        return "a tagged list"
    if isinstance(value, bytes):
        return "bytes"
    return _kind(value)


class RecordCodec:
    """Encodes and decodes a fixed registry of NamedTuple types (see the module's docstring).

    `overrides` replaces a field's annotation, as {(class name, field): annotation}, for fields the
    engine fills more loosely than it annotates them (ANY_RECORD: any registered record, or None).
    `validators` run on a decoded record of a class and return a reason it is wrong, or None.
    """

    def __init__(self, records: Iterable[type], *, overrides: dict[tuple[str, str], Any] | None = None,
                 validators: dict[type, Callable[[Any], str | None]] | None = None) -> None:
        self.records: dict[str, type] = {}
        for cls in records:
            if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
                raise TypeError(f"{cls!r} is not a NamedTuple class")
            self.records[cls.__name__] = cls
        self.overrides = dict(overrides or {})
        self.validators = dict(validators or {})
        self._hints: dict[type, dict[str, Any]] = {}

    def hints(self, cls: type) -> dict[str, Any]:
        """The field annotations of a registered class, resolved once (with the overrides)."""
        found = self._hints.get(cls)
        if found is None:
            # The registry resolves names a module imports only for the type checker.
            raw = get_type_hints(cls, localns=dict(self.records))
            fields: tuple[str, ...] = getattr(cls, "_fields")
            found = {name: self.overrides.get((cls.__name__, name), raw.get(name, Any)) for name in fields}
            self._hints[cls] = found
        return found

    # --- encoding ----------------------------------------------------------------------------------

    def encode(self, value: Any) -> JSON:
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return {"$": "float", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
        if isinstance(value, bytes):
            return {"$": "bytes", "base64": base64.b64encode(value).decode("ascii")}
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            cls = type(value)
            if self.records.get(cls.__name__) is not cls:
                raise EncodeError(f"a {cls.__name__} record is not part of this file format")
            out: dict[str, JSON] = {"$": cls.__name__}
            defaults: dict[str, Any] = getattr(cls, "_field_defaults", {})
            for name in cls._fields:
                field = getattr(value, name)
                if name in defaults and type(field) is type(defaults[name]) and field == defaults[name]:
                    continue  # left out: read back as its default
                out[name] = self.encode(field)
            return out
        if isinstance(value, tuple):
            return [self.encode(v) for v in value]
        if isinstance(value, list):
            return {"$": "list", "items": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value) or "$" in value:
                raise EncodeError("a dict whose keys are not all strings (or that has a key '$') cannot be saved")
            return {k: self.encode(v) for k, v in value.items()}
        raise EncodeError(f"a value of type {type(value).__name__} is not part of this file format")

    # --- decoding ----------------------------------------------------------------------------------

    def decode(self, data: JSON, path: str = "", hint: Any = Any) -> Any:
        """The value `data` encodes, checked against `hint` (a type annotation); DecodeError if not."""
        value = self._value(data, path, 0)
        self.check(value, hint, path)
        return value

    def _value(self, data: JSON, path: str, depth: int) -> Any:
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        depth += 1
        if depth > MAX_DEPTH:
            raise DecodeError(path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(data, list):
            return tuple(self._value(v, f"{path}[{i}]", depth) for i, v in enumerate(data))
        if not isinstance(data, dict):
            raise DecodeError(path, f"{_kind(data)} is not a JSON value")
        if "$" not in data:
            return {k: self._value(v, f"{path}.{k}" if path else k, depth) for k, v in data.items()}
        tag = data["$"]
        if not isinstance(tag, str):
            raise DecodeError(path, f"the type tag '$' must be a string, not {_kind(tag)}")
        if tag == "bytes":
            return self._bytes(data, path)
        if tag == "list":
            self._keys(data, path, ("items",))
            items = data["items"]
            if not isinstance(items, list):
                raise DecodeError(f"{path}.items", f"expected a list, found {_kind(items)}")
            return [self._value(v, f"{path}.items[{i}]", depth) for i, v in enumerate(items)]
        if tag == "float":
            self._keys(data, path, ("value",))
            number = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(data["value"]) \
                if isinstance(data["value"], str) else None
            if number is None:
                raise DecodeError(f"{path}.value", 'expected "nan", "inf" or "-inf"')
            return number
        cls = self.records.get(tag)
        if cls is None:
            raise DecodeError(path, f"unknown record type {tag[:60]!r}")
        return self._record(cls, data, path, depth)

    def _keys(self, data: dict[str, JSON], path: str, keys: tuple[str, ...]) -> None:
        extra = [k for k in data if k != "$" and k not in keys]
        if extra:
            raise DecodeError(path, f"unexpected key {extra[0][:60]!r}")
        missing = [k for k in keys if k not in data]
        if missing:
            raise DecodeError(path, f"missing key {missing[0]!r}")

    def _bytes(self, data: dict[str, JSON], path: str) -> bytes:
        self._keys(data, path, ("base64",))
        text = data["base64"]
        if not isinstance(text, str):
            raise DecodeError(f"{path}.base64", f"expected a string, found {_kind(text)}")
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise DecodeError(f"{path}.base64", "not valid base64") from None

    def _record(self, cls: type, data: dict[str, JSON], path: str, depth: int) -> Any:
        hints = self.hints(cls)
        defaults: dict[str, Any] = getattr(cls, "_field_defaults", {})
        extra = [k for k in data if k != "$" and k not in hints]
        if extra:
            raise DecodeError(path, f"a {cls.__name__} has no field {extra[0][:60]!r}")
        values: dict[str, Any] = {}
        for name, hint in hints.items():
            where = f"{path}.{name}" if path else name
            if name not in data:
                if name in defaults:  # written before the field existed: its default
                    values[name] = defaults[name]
                    continue
                raise DecodeError(where, f"missing (a {cls.__name__} needs it)")
            values[name] = self._value(data[name], where, depth)
            self.check(values[name], hint, where)
        record = cls(**values)
        validate = self.validators.get(cls)
        reason = validate(record) if validate is not None else None
        if reason is not None:
            raise DecodeError(path, reason)
        return record

    # --- checking against annotations --------------------------------------------------------------

    def check(self, value: Any, hint: Any, path: str) -> None:
        if not self.matches(value, hint, path):
            raise DecodeError(path, f"expected {self.describe(hint)}, found {_described(value)}")

    def matches(self, value: Any, hint: Any, path: str) -> bool:
        """Whether a decoded value fits an annotation (element mismatches raise with their own path)."""
        if hint is Any or hint is object:
            return True
        if hint is ANY_RECORD:
            return value is None or (isinstance(value, tuple) and hasattr(value, "_fields"))
        if hint is None or hint is type(None):
            return value is None
        origin = get_origin(hint)
        if origin is Union or origin is types.UnionType:
            return any(self._quietly(value, arg, path) for arg in get_args(hint))
        if origin is Literal:
            return any(type(value) is type(arg) and value == arg for arg in get_args(hint))
        if hint is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if hint is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if hint in (bool, str, bytes):
            return type(value) is hint
        if hint is tuple:
            return type(value) is tuple
        if hint is dict:
            return type(value) is dict
        if hint is list:
            return type(value) is list
        if origin is tuple:
            if type(value) is not tuple:
                return False
            args = get_args(hint)
            if len(args) == 2 and args[1] is Ellipsis:
                for i, item in enumerate(value):
                    self.check(item, args[0], f"{path}[{i}]")
                return True
            if len(args) != len(value):
                return False
            for i, (item, arg) in enumerate(zip(value, args)):
                self.check(item, arg, f"{path}[{i}]")
            return True
        if origin is list or origin is dict:
            return type(value) is origin and self._elements(value, get_args(hint), path)
        if isinstance(hint, type) and hint.__name__ in self.records:
            return type(value) is hint
        if isinstance(hint, type):  # a class the format does not hold
            return False
        raise DecodeError(path, f"the format cannot check {hint!r}")

    def _elements(self, value: list[Any] | dict[Any, Any], args: tuple[Any, ...], path: str) -> bool:
        if isinstance(value, list):
            item = args[0] if args else Any
            for i, v in enumerate(value):
                self.check(v, item, f"{path}[{i}]")
            return True
        key, item = args if len(args) == 2 else (Any, Any)
        for k, v in value.items():
            self.check(k, key, path)
            self.check(v, item, f"{path}.{k}")
        return True

    def _quietly(self, value: Any, hint: Any, path: str) -> bool:
        try:
            return self.matches(value, hint, path)
        except DecodeError:
            return False

    def describe(self, hint: Any) -> str:
        """An annotation in words: 'a string or null', 'a list of CertInfo records'."""
        if hint is Any or hint is object:
            return "any value"
        if hint is ANY_RECORD:
            return "a record or null"
        if hint is None or hint is type(None):
            return "null"
        origin = get_origin(hint)
        if origin is Union or origin is types.UnionType:
            return " or ".join(self.describe(arg) for arg in get_args(hint))
        if origin is Literal:
            return "one of " + ", ".join(repr(arg) for arg in get_args(hint))
        names = {float: "a number", int: "a whole number", bool: "true or false", str: "a string",
                 bytes: "bytes", tuple: "a list", dict: "an object", list: "a tagged list"}
        if hint in names:
            return names[hint]
        if origin is tuple:
            args = get_args(hint)
            if len(args) == 2 and args[1] is Ellipsis:
                return f"a list of ({self.describe(args[0])})"
            return f"a list of {len(args)} items"
        if origin in (list, dict):
            return names[origin]
        if isinstance(hint, type):
            return f"a {hint.__name__} record"
        return str(hint)


__all__ = ["ANY_RECORD", "DecodeError", "EncodeError", "JSON", "RecordCodec"]

"""Limits checked on a file's text before a parser sees it, and the one reader of small TOML files.

tomllib, tomlkit and json all recurse: a 2.5 KB file of `[[[[…` is a RecursionError deep inside
the parser, and a dotted key `a.b.c.…` 5,000 segments long parses into a dict that every later walk
(json.dumps, a comparison) recurses through. So every file tlsbench reads is held to:

    MAX_FILE   1 MiB     a profile, settings.toml, a state file, a keymap, a run file
    MAX_LINE   64 KiB    one line of a history file
    MAX_DEPTH  32        tables, arrays and objects inside each other (tlsbench's own files: under 12)

The nesting is measured on the raw text by `json_depth` / `toml_depth`, which skip strings and
comments the way the parsers do, and never raise. For valid JSON the count is exact; for TOML it is
never less than the depth of what tomllib returns and at most twice it (a table header counts each
of its parts twice when `[[arrays of tables]]` came before, as any part may be one). `read_toml` is the shared reader for small TOML files in the config
directory (settings, and the workbench's keymap and last-used files): every problem is a one-line
FileRefused naming the file.
"""

from __future__ import annotations

import os
import re
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_FILE", "MAX_LINE", "decode_text", "json_depth", "json_problem", "read_toml",
           "toml_depth", "toml_deep_line"]

MAX_FILE = 1 << 20
MAX_LINE = 64 << 10
MAX_DEPTH = 32

_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_BYTE_DELTA = {ord(k): v for k, v in _DELTA.items()}
_NOT_BRACKET_OR_QUOTE = bytes(sorted(set(range(256)) - set(b'[]{}"')))


def json_depth(text: str | bytes) -> int:
    """How deeply arrays and objects nest in JSON text or UTF-8 bytes (0 for a scalar); exact for valid JSON.

    C-speed string operations only, so a 20 KB history line costs ~0.1 ms: escaped backslashes and
    quotes go (pairs from the left, as a string's escapes read), then every other stretch between
    quotes is a string (an unterminated one runs to the end), then everything but brackets; the depth
    is the deepest running count of opened minus closed. (UTF-8 never uses these ASCII bytes inside a
    multi-byte character, so bytes are scanned as they are, without decoding.)
    """
    if isinstance(text, bytes):
        if b"\\" in text:
            text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
        outside = b"".join(text.translate(None, _NOT_BRACKET_OR_QUOTE).split(b'"')[::2])
        return max(0, max(accumulate(map(_BYTE_DELTA.__getitem__, outside)), default=0))
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    brackets = _NOT_BRACKET.sub("", "".join(text.split('"')[::2]))
    return max(0, max(accumulate(map(_DELTA.__getitem__, brackets)), default=0))


def json_problem(text: str | bytes, *, limit: int = MAX_DEPTH) -> str | None:
    """Why JSON text (or its UTF-8 bytes) must not reach json.loads (nested past `limit`), or None."""
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= limit:
            return None
    elif text.count("[") + text.count("{") <= limit:  # the usual short line: no need to look closer
        return None
    depth = json_depth(text)
    return f"nested {depth} levels deep, more than {limit}" if depth > limit else None


# TOML tokens that matter for nesting: strings (all four kinds, an unterminated one running to the end
# of its line or, for a multi-line one, the file), comments, brackets, and the punctuation of keys.
_TOML_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^\\"]|\\[\s\S]?|""?(?!"))*(?:"""|\Z)"{0,2}
      | \'\'\'[\s\S]*?(?:\'\'\'|\Z)\'{0,2}
      | "(?:[^"\\\n]|\\[^\n]?)*"?
      | \'[^\'\n]*\'?)
  | (?P<comment>\#[^\n]*)
  | (?P<punct>[\[\]{}=,.\n])
''', re.VERBOSE)
_START, _HEADER, _REST, _KEY, _VALUE = range(5)


def _scan_toml(text: str, limit: int | None) -> tuple[int, int]:
    """(depth, offset where it first went past `limit` or -1). See toml_depth."""
    deepest = 1  # the document is a table
    stack: list[list[Any]] = []  # per open bracket: [opener, levels its current key adds]
    top_extra = 0  # levels the key of the current top-level line adds (a.b.c = …: 2)
    extra = 0  # top_extra plus every open inline table's key levels
    header = 0  # levels the current [table] header adds, at most
    arrays_of_tables = 0  # [[headers]] seen so far: each may add one level to a later header
    mode, segments, header_aot = _START, 0, False
    for match in _TOML_TOKEN.finditer(text):
        kind, token = match.lastgroup, match.group()
        if kind == "comment":
            continue
        if token == "\n":
            if not stack:
                extra -= top_extra
                top_extra, mode = 0, _START
            continue
        if mode == _START:
            if token == "[":
                header_aot = text.startswith("[[", match.start())
                mode, segments = _HEADER, 1
                continue
            mode, segments = _KEY, 1
        if mode == _HEADER:
            if token == ".":
                segments += 1
                continue
            if token == "]":
                arrays_of_tables += header_aot
                # A header segment is a table, or a table inside an array of tables: one level or two.
                header = segments + min(segments, arrays_of_tables)
                depth = 1 + header
                mode = _REST
            else:
                continue
        elif mode == _REST:
            continue
        elif mode == _KEY and token not in "]}":
            if token == ".":
                segments += 1
                continue
            if token != "=":
                continue  # a quoted key; anything else is a syntax error the parser reports
            if stack:
                extra += segments - 1 - stack[-1][1]
                stack[-1][1] = segments - 1
            else:
                extra += segments - 1 - top_extra
                top_extra = segments - 1
            mode = _VALUE
            depth = 1 + header + extra + len(stack)
        elif token in "[{":
            stack.append([token, 0])
            depth = 1 + header + extra + len(stack)
            mode, segments = (_KEY, 1) if token == "{" else (_VALUE, 0)
        elif token in "]}":
            if stack:
                extra -= stack.pop()[1]
            mode = _VALUE
            continue
        elif token == ",":
            if stack and stack[-1][0] == "{":
                extra -= stack[-1][1]
                stack[-1][1] = 0
                mode, segments = _KEY, 1
            continue
        else:
            continue
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                return deepest, match.start()
    return deepest, -1


def toml_depth(text: str) -> int:
    """How deeply tables and arrays nest in TOML text (1: a document of plain keys); never raises.

    Counts dotted keys, table headers, inline tables and arrays; never less than the depth of what
    tomllib makes of valid text.
    """
    return _scan_toml(text, None)[0]


def toml_deep_line(text: str, *, limit: int = MAX_DEPTH) -> int | None:
    """The line (1-based) where TOML text nests past `limit`, or None. Stops there: cheap on any input."""
    _depth, offset = _scan_toml(text, limit)
    return None if offset < 0 else text.count("\n", 0, offset) + 1


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """UTF-8 text (a leading byte-order mark allowed), or the reason it is not text: (text, None | why)."""
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return "", f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})"
    if "\x00" in text:
        return "", f"line {text[:text.index(chr(0))].count(chr(10)) + 1}: holds a NUL byte: not a text file"
    return text, None


def read_toml(path: os.PathLike | str, *, what: str = "file", limit: int = MAX_FILE) -> dict[str, Any]:
    """The table in a small TOML file, read within every limit.

    Raises FileMissing when nothing is there (the caller's defaults apply) and FileRefused — one
    line naming the file and what is wrong — for a file that is not a regular file, too large, not
    UTF-8, nested too deeply or not TOML.
    """
    import tomllib

    from tlsbench.visible import visible
    from tlsbench.safe_files import FileRefused, read_regular

    text, problem = decode_text(read_regular(path, limit=limit, what=what))
    if problem is not None:
        raise FileRefused(path, problem)
    line = toml_deep_line(text)
    if line is not None:
        raise FileRefused(path, f"line {line}: nested more than {MAX_DEPTH} levels deep; not read")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileRefused(path, f"not valid TOML: {visible(str(exc), keep_newlines=False)}") from None
    except ValueError:  # a whole number of more than 4300 digits, which int() refuses
        line, reason = toml_value_problem(text)
        raise FileRefused(path, f"line {line}: {reason}" if line else reason) from None
    except RecursionError:  # not expected after the depth check; never a traceback all the same
        raise FileRefused(path, f"nested more than {MAX_DEPTH} levels deep; not read") from None


_DIGIT_RUN = re.compile(r"[0-9][0-9_]*")


def toml_value_problem(text: str) -> tuple[int | None, str]:
    """(line, reason) for the plain ValueError tomllib lets out: a whole number longer than Python's
    int() takes (4300 digits; sys.get_int_max_str_digits). The line of the first such number, if found."""
    import sys

    most = sys.get_int_max_str_digits() or 4300
    for match in _DIGIT_RUN.finditer(text):  # each run consumed once: linear on any text
        if len(match.group().replace("_", "")) > most:
            return text.count("\n", 0, match.start()) + 1, f"a number of more than {most} digits; not read"
    return None, "a value tomllib cannot convert; not read"

"""Make untrusted text safe to show: control characters become visible, nothing is markup.

Anything that came from the network or a file (certificate fields, banners, proxy replies, error
strings, profile text) passes through `visible()` before a front-end displays it — the one function
for this; the TUI's `safe_text` builds on it. Tab and newline are kept (when allowed); every other
C0 character, DEL and C1 (U+0080-U+009F) becomes a visible form, and so does every invisible
character that can change how the rest reads: Unicode format characters (category Cf: the bidi
controls U+202A-U+202E and U+2066-U+2069 that make `gnp.exe` display as `exe.png`, U+200B, U+FEFF,
U+00AD, ...), the line and paragraph separators U+2028/U+2029, and lone surrogates (which cannot
even be written to a UTF-8 terminal). JSON output keeps the text exact instead.
"""

from __future__ import annotations

import re

# Quick screen: the characters that may need a look (anything not printable ASCII but tab/newline).
_SUSPECT = re.compile(r"[^\t\n\x20-\x7e]")


def _show(code: int) -> str:
    if code < 0x20:
        return "\\x%02x" % code if code not in (0x1B,) else "\\e"
    if code == 0x7F:
        return "\\x7f"
    return "\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code


def is_hidden(ch: str) -> bool:
    """True for a character that must not reach a screen as itself (see the module docstring)."""
    code = ord(ch)
    if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
        return True
    if code < 0xA0:
        return False
    import unicodedata  # only for non-ASCII text: probe's start-up stays light

    return unicodedata.category(ch) in ("Cf", "Cs", "Zl", "Zp")


def visible(text: str, *, keep_newlines: bool = True, double_backslashes: bool = True) -> str:
    """Return text with control characters replaced by backslash escapes (\\e, \\x07, \\u009b).

    A backslash already in the text is doubled, so that an escape shown can always be told from
    the same characters sent literally; pass double_backslashes=False for text that is ours to
    show as typed (a command line), where the doubling would change what it says.
    """
    if not _SUSPECT.search(text) and not (double_backslashes and "\\" in text) \
            and (keep_newlines or "\n" not in text):
        return text
    out = []
    for ch in text:
        if ch == "\t" or (ch == "\n" and keep_newlines):
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif is_hidden(ch):
            out.append(_show(ord(ch)))
        elif ch == "\\" and double_backslashes:
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def visible_bytes(data: bytes, *, keep_newlines: bool = False) -> str:
    """Decode bytes as latin-1 (one char per byte) and make control characters visible."""
    return visible(data.decode("latin-1"), keep_newlines=keep_newlines)


def hexdump(data: bytes, width: int = 16) -> str:
    """Classic offset / hex / ASCII dump, one line per `width` bytes."""
    lines = []
    for off in range(0, len(data), width):
        chunk = data[off:off + width]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:04x}  {hexpart:<{width * 3 - 1}}  {text}")
    return "\n".join(lines)

"""Make untrusted text safe to show: control characters become visible, nothing is markup.

Anything that came from the network (certificate fields, banners, proxy replies, error
strings) passes through `visible()` before a front-end displays it. Tab and newline are kept
(when allowed); every other C0 character, DEL and C1 (U+0080-U+009F) becomes a visible form.
"""

from __future__ import annotations



def _show(code: int) -> str:
    if code < 0x20:
        return "\\x%02x" % code if code not in (0x1B,) else "\\e"
    if code == 0x7F:
        return "\\x7f"
    return "\\u%04x" % code


def visible(text: str, *, keep_newlines: bool = True, double_backslashes: bool = True) -> str:
    """Return text with control characters replaced by backslash escapes (\\e, \\x07, \\u009b).

    A backslash already in the text is doubled, so that an escape shown can always be told from
    the same characters sent literally; pass double_backslashes=False for text that is ours to
    show as typed (a command line), where the doubling would change what it says.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\t" or (ch == "\n" and keep_newlines):
            out.append(ch)
        elif code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
            out.append(_show(code) if ch != "\n" else "\\n")
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

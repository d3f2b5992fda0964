"""Looking for a secret in output the way someone who wants it would: in the text as shown, and in
every encoding the output may hold it in — hex dumps, JSON string escapes, base64 (Basic tokens,
OSC 52 payloads), percent-encoding, the RFC 1929 bytes — including the piece of one left at a cut.

`leaks(output, user, password)` lists what it found (empty: nothing). A "piece" is any run of
PIECE characters of a form that depends on the password (the base64 characters that encode only
`user:` are the user name's, not the secret's).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote, unquote_to_bytes

PIECE = 5  # a fragment longer than 4 characters of an encoding of the secret must not survive

_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}[ :]?){4,}")
_HEXDUMP_LINE = re.compile(r"^\s*[0-9a-f]{4,8}\s{1,2}((?:[0-9a-f]{2} ?)+)", re.M)
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
_OSC52 = re.compile(r"\x1b\]52;[a-z]*;([A-Za-z0-9+/=]*)(?:\x07|\x1b\\)")


def secret_pieces(user: str, password: str) -> set[bytes]:
    """Every PIECE-long run of each form that carries the password."""
    raw = password.encode("utf-8")
    forms = [raw, quote(password, safe="").encode(), re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(password, safe="")).encode(),
             "".join(f"%{b:02X}" for b in raw).encode()]
    pieces = {f[i:i + PIECE] for f in forms for i in range(max(len(f) - PIECE + 1, 1))}
    token = base64.b64encode(f"{user}:{password}".encode())
    # The first 4*(len(user:)//3) characters encode only the user name and the colon.
    free = 4 * (len(f"{user}:".encode()) // 3)
    pieces |= {token[i:i + PIECE] for i in range(max(free - PIECE + 1, 0), len(token.rstrip(b"=")) - PIECE + 1)}
    return {p for p in pieces if len(p) == PIECE or p == raw}


def decodings(text: str) -> list[bytes]:
    """The output itself and what its hex, hex dumps, base64, OSC 52 and percent-encoding decode to."""
    out = [text.encode("utf-8", "surrogateescape")]
    try:
        out.append(text.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    out.append(unquote_to_bytes(text))
    for match in _HEX_RUN.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        for start in (0, 1):  # the run may begin mid-byte
            chunk = digits[start:]
            out.append(bytes.fromhex(chunk[:len(chunk) // 2 * 2]))
    dump = "".join(m.group(1).replace(" ", "") for m in _HEXDUMP_LINE.finditer(text))
    if dump:
        out.append(bytes.fromhex(dump[:len(dump) // 2 * 2]))
    for match in list(_B64_RUN.finditer(text)) + list(_OSC52.finditer(text)):
        token = match.group(1) if match.re is _OSC52 else match.group(0)
        for start in range(4):  # the token may begin anywhere in a quantum
            body = token[start:]
            body = body[:len(body) // 4 * 4]
            try:
                decoded = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError):
                continue
            out.append(decoded)
            try:
                out.extend(decodings(decoded.decode("utf-8")) if match.re is _OSC52 else [])
            except UnicodeDecodeError:
                pass
    return out


def json_strings(value) -> list[str]:
    """Every string (keys too) in parsed JSON: the escapes (\\u00xx) decoded."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *json_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return []


def leaks(output: str | bytes, user: str, password: str, given: tuple[str, ...] = ()) -> list[str]:
    """What of the secret `output` holds (its JSON, when it parses as JSON lines, decoded too). `given`:
    strings that are no secret (the user name, a host) and may share a piece with the password."""
    text = output.decode("utf-8", "surrogateescape") if isinstance(output, bytes) else output
    texts = [text]
    for line in text.splitlines():
        try:
            texts += json_strings(json.loads(line))
        except ValueError:
            pass
    try:
        texts += json_strings(json.loads(text))
    except ValueError:
        pass
    pieces = secret_pieces(user, password)
    found = []
    for item in texts:
        for blob in decodings(item):
            for shown in (user, *given):
                blob = blob.replace(shown.encode("utf-8"), b"\0")
            found += [f"{piece!r} in {blob[:80]!r}" for piece in pieces if piece in blob]
    return sorted(set(found))

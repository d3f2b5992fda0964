"""Host names, addresses and ports as people type them: `HOST:PORT`, `[IPv6]:PORT`, IDNA names.

Each parser returns the value or raises `InputError` with one line naming the field.
"""

import ipaddress
import re
from functools import lru_cache

from tlsbench.errors import InputError

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


@lru_cache(maxsize=256)  # asked several times a run, of the same few names
def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_port(text: str | int, what: str = "port") -> int:
    from tlsbench.engine.findings.checks import check_port

    return check_port(text, what)


def check_host(host: str, what: str = "host") -> str:
    """Return the host (IP literal or DNS name) or raise InputError naming the problem."""
    if not host:
        raise InputError(f"{what} is empty", field=what)
    if is_ip(host):
        return host
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in host):
        raise InputError(f"{what} {host!r} contains spaces or control characters", field=what)
    try:
        # The idna codec (with unicodedata and stringprep) is loaded only for names that need it.
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        long = next((lab for lab in host.split(".") if len(lab) > 63), None)
        reason = f" (bad label {long[:20]!r}...: longer than 63 characters)" if long else ""
        raise InputError(f"{what} {host!r} is not a valid host name{reason}", field=what) from None
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    if len(name) > 253:
        raise InputError(f"{what} is {len(name)} characters long; DNS allows at most 253", field=what)
    for label in name.split("."):
        if not _LABEL.match(label):
            raise InputError(f"{what} {host!r} is not a valid host name (bad label {label!r})", field=what)
    return host


def split_hostport(text: str, what: str = "target", default_port: int | None = None) -> tuple[str, int]:
    """Parse HOST:PORT, [IPv6]:PORT, or HOST alone when a default port is given."""
    text = text.strip()
    if not text:
        raise InputError(f"{what} is empty; expected HOST:PORT", field=what)
    if "://" in text:
        raise InputError(f"{what} {text!r} looks like a URL; give HOST:PORT", field=what)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InputError(f"{what} {text!r} has an unclosed '['", field=what)
        host, rest = text[1:end], text[end + 1:]
        try:
            if ipaddress.ip_address(host).version != 6:
                raise ValueError
        except ValueError:
            raise InputError(f"{what} {text!r}: brackets are only for IPv6 addresses", field=what) from None
        if not rest:
            port_text = None
        elif rest.startswith(":"):
            port_text = rest[1:]
        else:
            raise InputError(f"{what} {text!r}: expected ':PORT' after ']'", field=what)
    elif text.count(":") > 1:
        raise InputError(f"{what} {text!r}: put an IPv6 address in brackets, e.g. [::1]:443", field=what)
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
    else:
        host, port_text = text, None
    if port_text is None or port_text == "":
        if default_port is None:
            raise InputError(f"{what} {text!r} has no port; expected HOST:PORT", field=what)
        port = default_port
    else:
        port = parse_port(port_text, f"{what} port")
    return check_host(host, what), port

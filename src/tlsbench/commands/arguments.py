"""Connection options on the command line, derived from the declarations in `engine/options.py`.

Names are the peers' where they have one: curl's --proxy/-x, --socks5h, --proxy-user, --resolve,
--cacert, --insecure, --cert/--key, --local-port, --interface, -4/-6; openssl s_client's
-servername (here --sni, with --servername as an alias) and -noservername (--no-sni).
"""

from __future__ import annotations

import argparse
import os
import sys

from tlsbench.engine.argv import QuietParser, UsageError, add_connection_options, given, values_from_args
from tlsbench.errors import InputError
from tlsbench.engine.options import finish_flags, spec_from_values
from tlsbench.engine.spec import ConnectionSpec

__all__ = ["QuietParser", "UsageError", "add_connection_options", "fail_usage", "given", "spec_from_args",
           "values_from_args"]


def spec_from_args(args: argparse.Namespace, base: dict | None = None,
                   environ: dict[str, str] | None = None) -> ConnectionSpec:
    """Build the spec from the flags given over `base` (a profile's values, or the defaults);
    raises InputError (one line) when something is wrong."""
    values, excluded = values_from_args(args)
    target = args.target or (base or {}).get("target")
    if not target:
        raise InputError("no target given; expected HOST:PORT", field="target")
    if "://" in target:
        # https://host/path: port 443 and an HTTP GET of that path (http://: plain TCP, port 80).
        from tlsbench.engine.paste import url_values  # the paste reader, only for a URL

        from_url = url_values(target)
        target = from_url.pop("target")
        values = {**from_url, **values}
    merged = dict(base or {})
    for name in excluded:
        merged.pop(name, None)
    tls = values.get("tls", merged.get("tls", True))
    merged.update(finish_flags(values, target=target, tls=bool(tls),
                               environ=os.environ if environ is None else environ, base=base))
    merged["target"] = target
    for name, flag in (("starttls_name", "--name"), ("xmpphost", "--xmpphost")):
        if given(args, name) and merged.get("starttls") in (None, "", "none"):
            raise InputError(f"{flag} is for --starttls (give the protocol, e.g. --starttls smtp)", field=name)
    return spec_from_values(merged, environ=environ)


def fail_usage(prog: str, message: str) -> int:
    """Print one line naming what is wrong and return exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

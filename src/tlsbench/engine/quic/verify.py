"""The certificate chain a QUIC handshake received, verified by OpenSSL as the tls stage's is.

aioquic brings its own TLS 1.3 and would verify with certifi's roots and its own name check; it is
told not to verify, and the chain it received is checked here with OpenSSL's X509_verify_cert
(through pyOpenSSL, which aioquic needs anyway) against the same trust the tls stage uses (the
CA file, or the system store's paths), so that a verify code means what it means over TCP: 20
for an unknown issuer, 10 expired, 62 for a name the leaf does not hold. OpenSSL checks the name
after building the chain and before the dates (check_id runs before internal_verify), so the
name is checked in that order here too, with tlsbench's own matcher.
"""

from __future__ import annotations

import ssl
from typing import NamedTuple

from OpenSSL import crypto

from tlsbench.engine.certs import certparse
from tlsbench.engine.spec import TlsSpec, expand_path, is_ip
from tlsbench.errors import InputError

_DATES = (9, 10)  # not yet valid, expired: OpenSSL reports them after the name


class Verdict(NamedTuple):
    verified: bool | None  # None: verification off
    code: int | None = None
    message: str | None = None
    verified_chain_der: tuple[bytes, ...] = ()


def trust_store(tls: TlsSpec) -> crypto.X509Store | None:
    """The trust anchors, loaded before any clock; None when verification is off."""
    if tls.verify == "off":
        return None
    store = crypto.X509Store()
    try:
        if tls.verify == "cafile":
            store.load_locations(expand_path(tls.cafile or ""))
        else:
            paths = ssl.get_default_verify_paths()
            if paths.cafile or paths.capath:
                store.load_locations(paths.cafile, paths.capath)
    except (crypto.Error, OSError) as exc:
        raise InputError(f"cafile {tls.cafile!r} holds no usable CA certificate ({exc})", field="cafile") from None
    return store


def verify_chain(store: crypto.X509Store | None, chain_der: tuple[bytes, ...], name: str) -> Verdict:
    """OpenSSL's verdict on the chain the peer sent (leaf first) for `name`."""
    if store is None:
        return Verdict(None)
    if not chain_der:
        return Verdict(False, 0, "the server sent no certificate")
    try:
        certs = [crypto.X509.from_cryptography(certparse.load(der)) for der in chain_der]
    except (certparse.CertParseError, ValueError) as exc:
        return Verdict(False, 0, f"the certificate does not parse: {exc}")
    context = crypto.X509StoreContext(store, certs[0], certs[1:])
    code, message = None, None
    path: tuple[bytes, ...] = ()
    try:
        built = context.get_verified_chain()
        path = tuple(crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in built)
    except crypto.X509StoreContextError as exc:
        errors = getattr(exc, "errors", None) or [0, 0, str(exc)]
        code, message = int(errors[0]), str(errors[2])
        if code not in _DATES:
            return Verdict(False, code, message)
    if not _name_ok(chain_der[0], name):
        ip = is_ip(name)
        return Verdict(False, 64 if ip else 62,
                       f"{'IP address' if ip else 'Hostname'} mismatch, certificate is not valid for '{name}'.")
    if code is not None:
        return Verdict(False, code, message)
    return Verdict(True, verified_chain_der=path)


def _name_ok(leaf: bytes, name: str) -> bool:
    try:
        return certparse.match_name(leaf, name)
    except certparse.CertParseError:
        return False

"""What a handshake negotiated, read from the messages' bytes (engine/tls/tlsparse.py does the parsing).

`negotiated(messages)` gives the key-exchange group (TLS 1.3 key_share, or the TLS 1.2
ServerKeyExchange curve / DH prime size), the server's signature scheme (CertificateVerify or
ServerKeyExchange), the extensions the server returned (ServerHello and, in TLS 1.3,
EncryptedExtensions), what a CertificateRequest asked for, and the session tickets' lifetimes.
Pure data in, records out: the diagnosis and the tests use it without a server.
"""

from typing import NamedTuple, Sequence

from tlsbench.engine.tls import tlsparse
from tlsbench.engine.tls.tlsnames import (CERTIFICATE_TYPES, extension_name, group_name, kx_of, signature_name,
                                     suite_name)


class ServerExtension(NamedTuple):
    name: str
    id: int
    where: str  # "ServerHello" | "EncryptedExtensions" | "HelloRetryRequest"

    def to_dict(self) -> dict:
        return {"name": self.name, "id": self.id, "in": self.where}


class ClientCertRequest(NamedTuple):
    """What the server asked of a client certificate (its CertificateRequest)."""

    ca_names: tuple[str, ...]  # acceptable CAs (RFC 4514); empty: the server names none (any CA)
    signature_algorithms: tuple[str, ...]
    certificate_types: tuple[str, ...] = ()  # TLS 1.2 and below

    def to_dict(self) -> dict:
        return {"ca_names": list(self.ca_names), "signature_algorithms": list(self.signature_algorithms),
                "certificate_types": list(self.certificate_types)}


class Negotiated(NamedTuple):
    version: str | None = None  # "TLS 1.3", from the ServerHello
    cipher_suite: str | None = None  # IANA name
    group: str | None = None  # "x25519", "secp256r1", "ffdhe2048", "DH 2048 bits"; None: none (RSA key transport)
    hello_retry_group: str | None = None  # the group a HelloRetryRequest asked for
    signature_algorithm: str | None = None  # the server's signature: "rsa_pss_rsae_sha256", ...
    extensions: tuple[ServerExtension, ...] = ()
    cert_request: ClientCertRequest | None = None
    ticket_lifetimes: tuple[int, ...] = ()  # seconds, one per NewSessionTicket received
    key_exchange: str | None = None  # "ECDHE", "DHE", "RSA" (TLS 1.2 suites), "(EC)DHE" in 1.3


def negotiated(messages: Sequence) -> Negotiated:
    """Read the parameters from the messages received (WireMessage records with `data`)."""
    hello = retry = None
    tls13 = False
    kx = None
    out: dict = {}
    extensions: list[ServerExtension] = []
    lifetimes: list[int] = []
    for m in messages:
        if m.direction != "received" or m.content_type != "handshake" or not m.data:
            continue
        t = getattr(m, "handshake_type", None)
        if t is None:  # a result.TlsMessage: the type is the message's first byte
            t = m.data[0]
        if t == 2:
            parsed = tlsparse.parse_server_hello(m.data)
            if parsed is None:
                continue
            where = "HelloRetryRequest" if parsed.retry else "ServerHello"
            extensions += [ServerExtension(extension_name(k), k, where) for k in parsed.extensions]
            if parsed.retry:
                retry = parsed
                continue
            hello = parsed
            tls13 = parsed.version == 0x0304
            kx = "(EC)DHE" if tls13 else kx_of(parsed.cipher_suite)
        elif t == 8:
            block = tlsparse.parse_encrypted_extensions(m.data)
            extensions += [ServerExtension(extension_name(k), k, "EncryptedExtensions") for k, _ in block or ()]
        elif t == 12:
            ske = tlsparse.parse_server_key_exchange(m.data, kx, tls12=hello is None or hello.version >= 0x0303)
            if ske is not None:
                out["group"] = group_name(ske.group) if ske.group is not None else (
                    f"DH {ske.dh_bits} bits" if ske.dh_bits else None)
                if ske.signature_scheme is not None:
                    out["signature_algorithm"] = signature_name(ske.signature_scheme)
                elif ske.signed and hello is not None:
                    out["signature_algorithm"] = _implied_signature(hello.cipher_suite)
        elif t == 15:
            scheme = tlsparse.parse_certificate_verify(m.data)
            if scheme is not None:
                out["signature_algorithm"] = signature_name(scheme)
        elif t == 13:
            req = tlsparse.parse_certificate_request(m.data, tls13)
            if req is not None:
                out["cert_request"] = ClientCertRequest(
                    req.ca_names, tuple(signature_name(s) for s in req.signature_schemes),
                    tuple(CERTIFICATE_TYPES.get(c, str(c)) for c in req.certificate_types))
        elif t == 4:
            ticket = tlsparse.parse_new_session_ticket(m.data, tls13)
            if ticket is not None:
                lifetimes.append(ticket.lifetime_s)
    if hello is not None and tls13 and hello.group is not None:
        out["group"] = group_name(hello.group)
    from tlsbench.engine.tls.tlsnames import version_name

    return Negotiated(
        version=version_name(hello.version) if hello else None,
        cipher_suite=suite_name(hello.cipher_suite) if hello else None,
        hello_retry_group=group_name(retry.group) if retry is not None and retry.group is not None else None,
        extensions=tuple(extensions), ticket_lifetimes=tuple(lifetimes), key_exchange=kx, **out)


# TLS 1.0/1.1 name no signature algorithm: the suite's authentication implies it (RFC 4346 7.4.3,
# RFC 4492 5.4), as s_client reports it ("Peer signing digest: MD5-SHA1").
_IMPLIED = {"RSA": "RSA with MD5+SHA-1 (TLS 1.0/1.1)", "ECDSA": "ECDSA with SHA-1 (TLS 1.0/1.1)",
            "DSS": "DSA with SHA-1 (TLS 1.0/1.1)"}


def _implied_signature(suite: int) -> str:
    from tlsbench.engine.tls.tlsnames import SUITES

    known = SUITES.get(suite)
    return _IMPLIED.get(known.auth if known is not None else "", "signed (its algorithm implied by the suite)")


def cert_request_of(messages: Sequence) -> ClientCertRequest | None:
    """The CertificateRequest of a (possibly failed) handshake, when one was received."""
    return negotiated(messages).cert_request


def past_server_verification(wire: Sequence) -> bool:
    """Whether the client went on past verifying the server's certificate in a handshake that
    failed later.

    OpenSSL verifies the server's Certificate as soon as it is processed and, with verification
    on, aborts there (alert and SSLCertVerificationError) when the chain fails. So a handshake
    message the client sent after receiving the server's Certificate (TLS 1.2: its Certificate,
    ClientKeyExchange, Finished; TLS 1.3: its Certificate, Finished) proves the chain was verified,
    whatever ended the handshake afterwards (a `certificate_required` alert, say). The order of
    the message callback is the order OpenSSL processed and wrote the messages, which is more
    robust than asking get_verified_chain(), which may hold certificates after a failed
    verification too.
    """
    seen_certificate = False
    for m in wire:
        if m.content_type != "handshake":
            continue
        if m.direction == "received" and m.name == "Certificate":
            seen_certificate = True
        elif seen_certificate and m.direction == "sent" and m.name != "ClientHello":
            return True
    return False

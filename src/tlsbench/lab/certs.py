"""Certificates for the local lab and the test suite, made with `cryptography`.

`make_lab_certs(directory)` writes a small PKI as PEM files and returns `LabCerts`, a frozen
record of paths: a root CA and an intermediate, a good leaf (with a full-chain file and a
leaf-only file for "missing intermediate"), and one leaf per certificate fault a person meets
in the wild: expired, not yet valid, wrong host, self-signed, unknown CA, expiring soon; plus a
client CA with a client certificate and a second good leaf ("alt.test") for SNI tests.
`issue_leaf` issues one more leaf from the same intermediate (one per lab server), and
`make_signing_ca` a separate root (an intercepting proxy's).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]
DEFAULT_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "www.lab.test", "lab.test")
ALT_NAME = "alt.test"
WRONG_HOST_NAME = "wrong.example"
EXPIRING_SOON_DAYS = 10
_DAY = dt.timedelta(days=1)
_MAX_PEM = 1 << 20


@dataclass(frozen=True)
class CertFiles:
    """One issued certificate: `cert` holds the leaf alone, `chain` the leaf followed by the
    intermediates a server should send, `issuers` only those intermediates (None when there
    are none; `openssl s_server -cert_chain` wants this one)."""

    cert: Path
    key: Path
    chain: Path
    issuers: Path | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class LabCerts:
    directory: Path
    ca_cert: Path  # the root to trust (cafile) for every leaf issued under the lab CA
    ca_key: Path
    intermediate_cert: Path
    intermediate_key: Path
    good: CertFiles  # good.cert alone = the "missing intermediate" case
    alt: CertFiles  # a second good leaf for ALT_NAME only, issued by the root (no intermediate)
    expired: CertFiles
    not_yet_valid: CertFiles
    wrong_host: CertFiles  # SAN only WRONG_HOST_NAME
    self_signed: CertFiles
    unknown_ca: CertFiles  # issued by other_ca_cert, which nobody trusts
    other_ca_cert: Path
    expiring_soon: CertFiles  # EXPIRING_SOON_DAYS left when made
    client_ca_cert: Path  # what a server requiring client certificates trusts
    client: CertFiles  # client certificate (clientAuth) issued by the client CA
    good_rsa: CertFiles  # like `good` but with an RSA-2048 key

    def all_paths(self) -> list[Path]:
        out: list[Path] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, CertFiles):
                out += [p for p in (value.cert, value.key, value.chain, value.issuers) if p]
            elif isinstance(value, Path) and f.name != "directory":
                out.append(value)
        return out


# --- building blocks -----------------------------------------------------------------------------

def _new_key(kind: KeyType):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsbench lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for n in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


class _Issuer:
    def __init__(self, cert: x509.Certificate, key) -> None:
        self.cert, self.key = cert, key


def _make_ca(common_name: str, parent: _Issuer | None, now: dt.datetime, path_length: int | None) -> _Issuer:
    key = _new_key("ec")
    subject = _name(common_name)
    issuer_name = parent.cert.subject if parent else subject
    signing_key = parent.key if parent else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Wide enough to cover the not-yet-valid leaf, which starts in the future.
        .not_valid_before(now - 400 * _DAY).not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if parent:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False)
    return _Issuer(builder.sign(signing_key, hashes.SHA256()), key)


def _make_leaf(names: Iterable[str], issuer: _Issuer | None, not_before: dt.datetime,
               not_after: dt.datetime, key_type: KeyType = "ec", client: bool = False,
               extensions: Iterable[x509.ExtensionType] = (), ca_issuers_url: str | None = None):
    names = tuple(names)
    key = _new_key(key_type)
    subject = _name(names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not client:
        builder = builder.add_extension(_san(names), critical=False)
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if ca_issuers_url:
        # Where a client may download the issuer (AIA "CA Issuers"), as public CAs write into their leaves.
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers_url))]),
            critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    """Atomic, and only over a PEM file (what the lab put there): anything else is refused, named."""
    from tlsbench.safe_files import replace_checked

    replace_checked(path, lambda _old: data, accept=_is_pem, limit=_MAX_PEM, what="PEM file",
                    mode=0o600 if private else 0o644)
    return path


def _is_pem(existing: bytes) -> str | None:
    return None if b"-----BEGIN " in existing else "holds no PEM data"


def _read_pem(path: Path) -> bytes:
    from tlsbench.safe_files import read_regular

    return read_regular(path, limit=_MAX_PEM, what="PEM file")


class _Writer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ca(self, stem: str, issuer: _Issuer) -> tuple[Path, Path]:
        return (_write(self.directory / f"{stem}.pem", _pem(issuer.cert)),
                _write(self.directory / f"{stem}.key", _key_pem(issuer.key), private=True))

    def leaf(self, stem: str, names: tuple[str, ...], cert, key, intermediates: list[x509.Certificate]) -> CertFiles:
        d = self.directory
        cert_path = _write(d / f"{stem}.pem", _pem(cert))
        key_path = _write(d / f"{stem}.key", _key_pem(key), private=True)
        chain_path = _write(d / f"{stem}.chain.pem", _pem(cert) + b"".join(_pem(c) for c in intermediates))
        issuers = (_write(d / f"{stem}.issuers.pem", b"".join(_pem(c) for c in intermediates))
                   if intermediates else None)
        return CertFiles(cert_path, key_path, chain_path, issuers, names)


# --- the factory ---------------------------------------------------------------------------------

def make_lab_certs(directory: str | os.PathLike, names: Iterable[str] = (),
                   now: dt.datetime | None = None) -> LabCerts:
    """Write the lab PKI into `directory` (created 0700 if missing) and return its paths.

    `names` are added to the good leaf's SANs beside DEFAULT_NAMES.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = now or dt.datetime.now(dt.timezone.utc)
    w = _Writer(d)
    good_names = tuple(dict.fromkeys((*DEFAULT_NAMES, *names)))

    root = _make_ca("tlsbench Lab Root CA", None, now, path_length=1)
    inter = _make_ca("tlsbench Lab Intermediate CA", root, now, path_length=0)
    other = _make_ca("tlsbench Other Root CA (untrusted)", None, now, path_length=0)
    client_ca = _make_ca("tlsbench Lab Client CA", None, now, path_length=0)
    ca_cert, ca_key = w.ca("ca", root)
    inter_cert, inter_key = w.ca("intermediate", inter)
    other_cert, _ = w.ca("other-ca", other)
    client_ca_cert, _ = w.ca("client-ca", client_ca)

    def issued(stem, leaf_names, start, end, issuer=inter, key_type: KeyType = "ec", chain=None):
        cert, key = _make_leaf(leaf_names, issuer, start, end, key_type)
        return w.leaf(stem, tuple(leaf_names), cert, key, [inter.cert] if chain is None else chain)

    year = now + 365 * _DAY
    good = issued("good", good_names, now - _DAY, year)
    # Issued by the root itself: `openssl s_server -cert2` cannot send an intermediate.
    alt = issued("alt", (ALT_NAME,), now - _DAY, year, issuer=root, chain=[])
    expired = issued("expired", good_names, now - 90 * _DAY, now - 30 * _DAY)
    not_yet = issued("not-yet-valid", good_names, now + 30 * _DAY, now + 395 * _DAY)
    wrong = issued("wrong-host", (WRONG_HOST_NAME,), now - _DAY, year)
    expiring = issued("expiring-soon", good_names, now - 300 * _DAY, now + EXPIRING_SOON_DAYS * _DAY)
    good_rsa = issued("good-rsa", good_names, now - _DAY, year, key_type="rsa")
    unknown = issued("unknown-ca", good_names, now - _DAY, year, issuer=other, chain=[])
    self_signed = issued("self-signed", good_names, now - _DAY, year, issuer=None, chain=[])
    ccert, ckey = _make_leaf(("lab-client",), client_ca, now - _DAY, year, client=True)
    client = w.leaf("client", ("lab-client",), ccert, ckey, [])

    return LabCerts(d, ca_cert, ca_key, inter_cert, inter_key, good, alt, expired, not_yet, wrong,
                    self_signed, unknown, other_cert, expiring, client_ca_cert, client, good_rsa)


def _load_issuer(cert_path: Path, key_path: Path) -> _Issuer:
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    return _Issuer(cert, key)


def issue_leaf(certs: LabCerts, names: Iterable[str], directory: str | os.PathLike, stem: str, *,
               key_type: KeyType = "ec", days: int = 365, now: dt.datetime | None = None,
               ocsp_url: str | None = None, crl_url: str | None = None, scts: int = 0,
               ca_issuers_url: str | None = None, issuer: tuple[Path, Path] | None = None) -> CertFiles:
    """A new server leaf for `names` (the first one is also the CN) from the lab intermediate,
    written into `directory` as `<stem>.pem`, `.key`, `.chain.pem` and `.issuers.pem`.

    It verifies against `certs.ca_cert` like the good leaf; each call makes a new key, so two
    leaves for the same names are told apart by their serial number and key. `ocsp_url` adds an
    Authority Information Access OCSP entry, `crl_url` a CRL distribution point, `scts` that many
    embedded Signed Certificate Timestamps (made-up logs and signatures: parsers read them, no log
    vouches for them). `ca_issuers_url` puts an AIA "CA Issuers" URL in it; `issuer` (certificate and key paths, e.g. from
    `make_signing_ca`) issues it from that CA instead, with no intermediate in its chain.
    """
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError("issue_leaf needs at least one name")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = now or dt.datetime.now(dt.timezone.utc)
    inter = _load_issuer(*issuer) if issuer else _load_issuer(certs.intermediate_cert, certs.intermediate_key)
    extra: list[x509.ExtensionType] = []
    if ocsp_url:
        access = [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                         x509.UniformResourceIdentifier(ocsp_url))]
        if ca_issuers_url:  # one AIA extension holds both
            access.append(x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                                 x509.UniformResourceIdentifier(ca_issuers_url)))
            ca_issuers_url = None
        extra.append(x509.AuthorityInformationAccess(access))
    if crl_url:
        extra.append(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]))
    if scts:
        extra.append(x509.UnrecognizedExtension(_SCT_OID, _sct_list(scts, now)))
    cert, key = _make_leaf(names, inter, now - _DAY, now + days * _DAY, key_type, extensions=extra,
                           ca_issuers_url=ca_issuers_url)
    return _Writer(d).leaf(stem, names, cert, key, [] if issuer else [inter.cert])


_SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def _sct_list(count: int, now: dt.datetime) -> bytes:
    """The extension's value: an OCTET STRING holding a TLS-encoded SignedCertificateTimestampList."""
    scts = b""
    for i in range(count):
        log_id = bytes([0x10 + i]) * 32
        millis = int((now - dt.timedelta(hours=i + 1)).timestamp() * 1000)
        signature = b"\x30\x06\x02\x01\x01\x02\x01\x01"  # a DER ECDSA signature (r=1, s=1): well-formed, not valid
        body = (b"\x00" + log_id + millis.to_bytes(8, "big") + b"\x00\x00" + b"\x04\x03"
                + len(signature).to_bytes(2, "big") + signature)
        scts += len(body).to_bytes(2, "big") + body
    listing = len(scts).to_bytes(2, "big") + scts
    return _der_octets(listing)


def _der_octets(data: bytes) -> bytes:
    n = len(data)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return b"\x04" + length + data


def cert_serial(path: str | os.PathLike) -> int:
    return x509.load_pem_x509_certificate(_read_pem(Path(path))).serial_number


def write_ocsp_index(path: str | os.PathLike, good: Iterable[str | os.PathLike] = (),
                     revoked: Iterable[tuple[str | os.PathLike, dt.datetime, str | None]] = ()) -> Path:
    """An `openssl ocsp -index` file (the `openssl ca` database): one line per certificate, V for
    valid, R for revoked with its date and reason (e.g. "keyCompromise")."""
    def line(cert_path, flag: str, revoked_at: str = "") -> str:
        cert = x509.load_pem_x509_certificate(_read_pem(Path(cert_path)))
        expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
        subject = "".join(f"/{a.rfc4514_attribute_name}={str(a.value)}" for a in cert.subject)
        return f"{flag}\t{expiry}\t{revoked_at}\t{cert.serial_number:X}\tunknown\t{subject}\n"

    text = "".join(line(p, "V") for p in good)
    for cert_path, when, reason in revoked:
        stamp = when.astimezone(dt.timezone.utc).strftime("%y%m%d%H%M%SZ")
        text += line(cert_path, "R", stamp + (f",{reason}" if reason else ""))
    out = Path(path)
    out.write_text(text)
    return out


def make_crl(certs: LabCerts, path: str | os.PathLike,
             revoked: Iterable[tuple[int, dt.datetime, x509.ReasonFlags | None]] = (), *,
             now: dt.datetime | None = None, days: int = 7) -> Path:
    """A CRL from the lab intermediate (DER), listing `revoked` (serial, date, reason)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    inter = _load_issuer(certs.intermediate_cert, certs.intermediate_key)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(inter.cert.subject)
               .last_update(now - _DAY).next_update(now + days * _DAY))
    for serial, when, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(inter.key, hashes.SHA256())
    out = Path(path)
    out.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return out


def make_signing_ca(directory: str | os.PathLike, stem: str, common_name: str,
                    now: dt.datetime | None = None) -> tuple[Path, Path]:
    """A new root CA of its own (not the lab's), e.g. the one an intercepting proxy signs its
    forged leaves with: returns the paths of `<stem>.pem` and `<stem>.key`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = _make_ca(common_name, None, now or dt.datetime.now(dt.timezone.utc), path_length=0)
    return _Writer(d).ca(stem, ca)


def load_lab_certs(directory: str | os.PathLike, min_days: float = 3.0,
                   now: dt.datetime | None = None) -> LabCerts | None:
    """The LabCerts already in `directory`, or None when a file is missing or stale.

    Stale: the good leaf or the CA ends within 30 days, or the expiring-soon leaf (whose point
    is to be near its end, not past it) has less than `min_days` left.
    """
    d = Path(directory)
    now = now or dt.datetime.now(dt.timezone.utc)
    expected = make_paths(d)
    if not all(p.is_file() for p in expected.all_paths()):
        return None
    try:
        def ends(path: Path) -> dt.datetime:
            return x509.load_pem_x509_certificate(_read_pem(path)).not_valid_after_utc

        if min(ends(expected.good.cert), ends(expected.ca_cert)) < now + 30 * _DAY:
            return None
        if ends(expected.expiring_soon.cert) < now + dt.timedelta(days=min_days):
            return None
        names = x509.load_pem_x509_certificate(_read_pem(expected.good.cert)).extensions \
            .get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, OSError, x509.ExtensionNotFound):
        return None
    good_names = tuple(str(n.value) for n in names)
    return _with_names(expected, good_names)


def ensure_lab_certs(directory: str | os.PathLike, names: Iterable[str] = ()) -> LabCerts:
    """Reuse the certificates in `directory` when complete, fresh and covering `names`; else remake."""
    names = tuple(names)
    current = load_lab_certs(directory)
    if current is not None and all(n in current.good.names for n in names):
        return current
    return make_lab_certs(directory, names)


def make_paths(d: Path) -> LabCerts:
    """The LabCerts that make_lab_certs(d) writes, without touching the disk."""
    def leaf(stem: str, names: tuple[str, ...], chained: bool = True) -> CertFiles:
        return CertFiles(d / f"{stem}.pem", d / f"{stem}.key", d / f"{stem}.chain.pem",
                         d / f"{stem}.issuers.pem" if chained else None, names)

    good = DEFAULT_NAMES
    return LabCerts(
        d, d / "ca.pem", d / "ca.key", d / "intermediate.pem", d / "intermediate.key",
        leaf("good", good), leaf("alt", (ALT_NAME,), False), leaf("expired", good), leaf("not-yet-valid", good),
        leaf("wrong-host", (WRONG_HOST_NAME,)), leaf("self-signed", good, False),
        leaf("unknown-ca", good, False), d / "other-ca.pem", leaf("expiring-soon", good),
        d / "client-ca.pem", leaf("client", ("lab-client",), False), leaf("good-rsa", good))


def _with_names(certs: LabCerts, good_names: tuple[str, ...]) -> LabCerts:
    """Put the good leaf's actual SANs on every leaf made for the same names."""
    from dataclasses import replace

    changes = {f.name: replace(getattr(certs, f.name), names=good_names) for f in fields(certs)
               if isinstance(getattr(certs, f.name), CertFiles) and getattr(certs, f.name).names == DEFAULT_NAMES}
    return replace(certs, **changes)

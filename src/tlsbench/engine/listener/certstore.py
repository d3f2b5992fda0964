"""The listener's self-signed certificate, generated with `cryptography` and kept for reuse.

Kept in `platformdirs.user_data_dir("tlsbench")` (or $TLSBENCH_DATA_DIR) as listener-cert.pem
and listener-key.pem. Reused while valid; regenerated when it has expired (or will within a
day) or when a requested name is not among its SANs. SANs: localhost, 127.0.0.1, ::1, plus names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tlsbench.errors import InputError
from tlsbench.safe_files import (FileMissing, FileRefused, check_regular, read_regular, replace_checked,
                                 write_target)

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
CERT_FILE, KEY_FILE = "listener-cert.pem", "listener-key.pem"
VALID_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=1)
MAX_PEM = 1 << 20  # the files are under 1 KiB; anything this big is not ours


@dataclass(frozen=True)
class CertInfo:
    cert_path: Path
    key_path: Path
    subject: str
    names: tuple[str, ...]  # SANs: DNS names and IP addresses as text
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # SHA-256 of the DER, colon-separated upper-case hex
    generated: bool = False  # True when made just now
    pin_sha256: str = ""  # the key as curl's --pinnedpubkey takes it: "sha256//BASE64"

    def to_dict(self) -> dict:
        return {"cert": str(self.cert_path), "key": str(self.key_path), "subject": self.subject,
                "names": list(self.names), "not_before": self.not_before.isoformat(),
                "not_after": self.not_after.isoformat(), "sha256": self.fingerprint,
                "pin_sha256": self.pin_sha256, "generated": self.generated}


def data_dir() -> Path:
    override = os.environ.get("TLSBENCH_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("tlsbench"))


def fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def check_name(name: str) -> str:
    """A SAN the user asked for: an IP address or a DNS name; raises InputError otherwise."""
    text = name.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    ok = text and len(text) <= 253 and all(
        0 < len(label) <= 63 and all(c.isalnum() or c in "-*_" for c in label) for label in labels)
    if not ok or not text.isascii():
        raise InputError(f"--name {name!r} is neither a DNS name nor an IP address", field="name")
    return text.lower()


def load_info(cert_path: Path, key_path: Path, generated: bool = False) -> CertInfo:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from tlsbench.engine.certs.rawcert import pin_sha256

    cert = x509.load_pem_x509_certificate(read_regular(cert_path, limit=MAX_PEM, what="certificate"))
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += san.get_values_for_type(x509.DNSName)
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    der = cert.public_bytes(Encoding.DER)
    return CertInfo(cert_path=cert_path, key_path=key_path, subject=cert.subject.rfc4514_string(),
                    names=tuple(names), not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc, fingerprint=fingerprint(der), generated=generated,
                    pin_sha256=pin_sha256(der))


def existing(directory: Path | None = None) -> CertInfo | None:
    """The stored certificate, or None when there is none (or it cannot be read)."""
    folder = directory or data_dir()
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    try:
        check_regular(key_path, limit=MAX_PEM, what="private key")  # a FIFO or device: refused, named
        return load_info(cert_path, key_path)
    except FileMissing:
        return None
    except ValueError:  # not a certificate: ensure_certificate() refuses to write over it
        return None


def ensure_certificate(names: tuple[str, ...] | list[str] = (), directory: Path | None = None,
                       now: dt.datetime | None = None) -> CertInfo:
    """The stored certificate if it is valid and covers `names`; otherwise a fresh one."""
    wanted = [check_name(n) for n in names]
    now = now or dt.datetime.now(dt.timezone.utc)
    folder = directory or data_dir()
    current = existing(folder)
    if current is not None:
        fresh = current.not_before <= now and now + RENEW_BEFORE < current.not_after
        if fresh and all(n in current.names for n in wanted):
            return current
        # keep names asked for earlier so alternating --name values do not churn the certificate
        wanted = [n for n in current.names if n not in DEFAULT_NAMES] + wanted
    all_names = list(dict.fromkeys([*DEFAULT_NAMES, *wanted]))
    cert_pem, key_pem = _generate(all_names, now)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = ((folder / KEY_FILE, key_pem, b"PRIVATE KEY-----"), (folder / CERT_FILE, cert_pem, b"CERTIFICATE-----"))
        for path, _data, marker in files:  # both checked before either is written: never half a pair
            _refuse_unless_ours(path, marker)
        for path, data, marker in files:
            replace_checked(path, _constant(data), accept=_pem_holding(marker), limit=MAX_PEM, what="PEM file")
    except OSError as exc:
        raise InputError(f"cannot write the certificate in {folder}: {exc.strerror or exc}") from None
    return load_info(folder / CERT_FILE, folder / KEY_FILE, generated=True)


def _generate(names: list[str], now: dt.datetime) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsbench listener"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsbench (self-signed)")])
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _constant(data: bytes) -> Callable[[bytes | None], bytes]:
    """replace_checked()'s new-content function: these bytes, whatever was there."""
    def content(_old: bytes | None) -> bytes:
        return data
    return content


def _refuse_unless_ours(path: Path, marker: bytes) -> None:
    target, st = write_target(path)
    if st is not None:
        reason = _pem_holding(marker)(read_regular(target, limit=MAX_PEM, what="PEM file"))
        if reason is not None:
            raise FileRefused(path, f"{reason}; tlsbench does not write over it: move or delete it by hand")


def _pem_holding(marker: bytes) -> Callable[[bytes], str | None]:
    """accept() for replace_checked: tlsbench writes only over a PEM file of the kind it put there."""
    def accept(existing: bytes) -> str | None:
        return None if b"-----BEGIN " in existing and marker in existing else \
            f"holds no PEM {marker.decode().rstrip('-').lower()}"
    return accept


def trust_hints(info: CertInfo, host: str = "127.0.0.1", port: int | str = "PORT") -> list[str]:
    """How to make a client trust this certificate, one command per line."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [f"tlsbench probe {target} --cafile {info.cert_path}",
            f"curl --cacert {info.cert_path} https://{target}/",
            f"openssl s_client -connect {target} -CAfile {info.cert_path}"]

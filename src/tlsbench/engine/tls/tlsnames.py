"""Names for TLS code points: key-exchange groups, signature schemes, extensions, cipher suites.

Values from the IANA TLS registries. A cipher suite's properties (key exchange, authentication,
cipher, MAC, forward secrecy, why it is weak) are read from its IANA name, which spells them out
(`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`); `SUITES` lists the suites tlsbench knows by number.
Unknown values are named by their number ("0x1a2b"), never guessed.
"""

from typing import NamedTuple

GROUPS = {
    0x0015: "secp224r1", 0x0016: "secp256k1", 0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1",
    0x001A: "brainpoolP256r1", 0x001B: "brainpoolP384r1", 0x001C: "brainpoolP512r1", 0x001D: "x25519",
    0x001E: "x448", 0x001F: "brainpoolP256r1tls13", 0x0020: "brainpoolP384r1tls13", 0x0021: "brainpoolP512r1tls13",
    0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144", 0x0104: "ffdhe8192",
    0x11EC: "X25519MLKEM768", 0x6399: "X25519Kyber768Draft00",
}

SIGNATURE_SCHEMES = {
    0x0201: "rsa_pkcs1_sha1", 0x0202: "dsa_sha1", 0x0203: "ecdsa_sha1",
    0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224", 0x0303: "ecdsa_sha224",
    0x0401: "rsa_pkcs1_sha256", 0x0402: "dsa_sha256", 0x0403: "ecdsa_secp256r1_sha256",
    0x0501: "rsa_pkcs1_sha384", 0x0502: "dsa_sha384", 0x0503: "ecdsa_secp384r1_sha384",
    0x0601: "rsa_pkcs1_sha512", 0x0602: "dsa_sha512", 0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512", 0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384", 0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
}
_HASHES = {0: "none", 1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
_SIGS = {0: "anonymous", 1: "rsa", 2: "dsa", 3: "ecdsa"}

EXTENSIONS = {
    0: "server_name", 1: "max_fragment_length", 5: "status_request", 10: "supported_groups",
    11: "ec_point_formats", 13: "signature_algorithms", 14: "use_srtp", 15: "heartbeat",
    16: "application_layer_protocol_negotiation", 17: "status_request_v2", 18: "signed_certificate_timestamp",
    19: "client_certificate_type", 20: "server_certificate_type", 21: "padding", 22: "encrypt_then_mac",
    23: "extended_master_secret", 27: "compress_certificate", 28: "record_size_limit", 35: "session_ticket",
    41: "pre_shared_key", 42: "early_data", 43: "supported_versions", 44: "cookie", 45: "psk_key_exchange_modes",
    47: "certificate_authorities", 48: "oid_filters", 49: "post_handshake_auth", 50: "signature_algorithms_cert",
    51: "key_share", 57: "quic_transport_parameters", 17513: "application_settings", 65037: "encrypted_client_hello",
    65281: "renegotiation_info",
}

CERTIFICATE_TYPES = {1: "rsa_sign", 2: "dss_sign", 3: "rsa_fixed_dh", 4: "dss_fixed_dh", 64: "ecdsa_sign",
                     65: "rsa_fixed_ecdh", 66: "ecdsa_fixed_ecdh"}

VERSIONS = {0x0200: "SSL 2.0", 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
            0x0304: "TLS 1.3"}


def _hex(value: int) -> str:
    return f"0x{value:04x}"


def group_name(value: int) -> str:
    return GROUPS.get(value, _hex(value))


def signature_name(value: int) -> str:
    """A TLS 1.3 SignatureScheme name, or TLS 1.2's hash/signature pair (e.g. 'rsa_md5')."""
    if value in SIGNATURE_SCHEMES:
        return SIGNATURE_SCHEMES[value]
    hash_, sig = value >> 8, value & 0xFF
    if hash_ in _HASHES and sig in _SIGS:
        return f"{_SIGS[sig]}_{_HASHES[hash_]}"
    return _hex(value)


def extension_name(value: int) -> str:
    if (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF):
        return f"GREASE {_hex(value)}"
    return EXTENSIONS.get(value, f"extension {value}")


def version_name(value: int) -> str:
    return VERSIONS.get(value, _hex(value))


# --- cipher suites ----------------------------------------------------------------------------------

_SUITE_TABLE = """
0001 TLS_RSA_WITH_NULL_MD5
0002 TLS_RSA_WITH_NULL_SHA
0003 TLS_RSA_EXPORT_WITH_RC4_40_MD5
0004 TLS_RSA_WITH_RC4_128_MD5
0005 TLS_RSA_WITH_RC4_128_SHA
0006 TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5
0007 TLS_RSA_WITH_IDEA_CBC_SHA
0008 TLS_RSA_EXPORT_WITH_DES40_CBC_SHA
0009 TLS_RSA_WITH_DES_CBC_SHA
000A TLS_RSA_WITH_3DES_EDE_CBC_SHA
000B TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA
000C TLS_DH_DSS_WITH_DES_CBC_SHA
000D TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA
000E TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA
000F TLS_DH_RSA_WITH_DES_CBC_SHA
0010 TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA
0011 TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA
0012 TLS_DHE_DSS_WITH_DES_CBC_SHA
0013 TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA
0014 TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA
0015 TLS_DHE_RSA_WITH_DES_CBC_SHA
0016 TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
0017 TLS_DH_anon_EXPORT_WITH_RC4_40_MD5
0018 TLS_DH_anon_WITH_RC4_128_MD5
0019 TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA
001A TLS_DH_anon_WITH_DES_CBC_SHA
001B TLS_DH_anon_WITH_3DES_EDE_CBC_SHA
002F TLS_RSA_WITH_AES_128_CBC_SHA
0030 TLS_DH_DSS_WITH_AES_128_CBC_SHA
0031 TLS_DH_RSA_WITH_AES_128_CBC_SHA
0032 TLS_DHE_DSS_WITH_AES_128_CBC_SHA
0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA
0034 TLS_DH_anon_WITH_AES_128_CBC_SHA
0035 TLS_RSA_WITH_AES_256_CBC_SHA
0036 TLS_DH_DSS_WITH_AES_256_CBC_SHA
0037 TLS_DH_RSA_WITH_AES_256_CBC_SHA
0038 TLS_DHE_DSS_WITH_AES_256_CBC_SHA
0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA
003A TLS_DH_anon_WITH_AES_256_CBC_SHA
003B TLS_RSA_WITH_NULL_SHA256
003C TLS_RSA_WITH_AES_128_CBC_SHA256
003D TLS_RSA_WITH_AES_256_CBC_SHA256
003E TLS_DH_DSS_WITH_AES_128_CBC_SHA256
003F TLS_DH_RSA_WITH_AES_128_CBC_SHA256
0040 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256
0041 TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
0042 TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA
0043 TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA
0044 TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA
0045 TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
0046 TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA
0060 TLS_RSA_EXPORT1024_WITH_RC4_56_MD5
0061 TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5
0062 TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA
0063 TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA
0064 TLS_RSA_EXPORT1024_WITH_RC4_56_SHA
0065 TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA
0066 TLS_DHE_DSS_WITH_RC4_128_SHA
0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
0068 TLS_DH_DSS_WITH_AES_256_CBC_SHA256
0069 TLS_DH_RSA_WITH_AES_256_CBC_SHA256
006A TLS_DHE_DSS_WITH_AES_256_CBC_SHA256
006B TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
006C TLS_DH_anon_WITH_AES_128_CBC_SHA256
006D TLS_DH_anon_WITH_AES_256_CBC_SHA256
0084 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
0085 TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA
0086 TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA
0087 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA
0088 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
0089 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA
0096 TLS_RSA_WITH_SEED_CBC_SHA
0097 TLS_DH_DSS_WITH_SEED_CBC_SHA
0098 TLS_DH_RSA_WITH_SEED_CBC_SHA
0099 TLS_DHE_DSS_WITH_SEED_CBC_SHA
009A TLS_DHE_RSA_WITH_SEED_CBC_SHA
009B TLS_DH_anon_WITH_SEED_CBC_SHA
009C TLS_RSA_WITH_AES_128_GCM_SHA256
009D TLS_RSA_WITH_AES_256_GCM_SHA384
009E TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
009F TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
00A0 TLS_DH_RSA_WITH_AES_128_GCM_SHA256
00A1 TLS_DH_RSA_WITH_AES_256_GCM_SHA384
00A2 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256
00A3 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
00A4 TLS_DH_DSS_WITH_AES_128_GCM_SHA256
00A5 TLS_DH_DSS_WITH_AES_256_GCM_SHA384
00A6 TLS_DH_anon_WITH_AES_128_GCM_SHA256
00A7 TLS_DH_anon_WITH_AES_256_GCM_SHA384
00BA TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256
00BD TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256
00BE TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
00BF TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256
00C0 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256
00C3 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256
00C4 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256
00C5 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256
1301 TLS_AES_128_GCM_SHA256
1302 TLS_AES_256_GCM_SHA384
1303 TLS_CHACHA20_POLY1305_SHA256
1304 TLS_AES_128_CCM_SHA256
1305 TLS_AES_128_CCM_8_SHA256
C001 TLS_ECDH_ECDSA_WITH_NULL_SHA
C002 TLS_ECDH_ECDSA_WITH_RC4_128_SHA
C003 TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA
C004 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA
C005 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA
C006 TLS_ECDHE_ECDSA_WITH_NULL_SHA
C007 TLS_ECDHE_ECDSA_WITH_RC4_128_SHA
C008 TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
C009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
C00A TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
C00B TLS_ECDH_RSA_WITH_NULL_SHA
C00C TLS_ECDH_RSA_WITH_RC4_128_SHA
C00D TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA
C00E TLS_ECDH_RSA_WITH_AES_128_CBC_SHA
C00F TLS_ECDH_RSA_WITH_AES_256_CBC_SHA
C010 TLS_ECDHE_RSA_WITH_NULL_SHA
C011 TLS_ECDHE_RSA_WITH_RC4_128_SHA
C012 TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
C013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
C014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
C015 TLS_ECDH_anon_WITH_NULL_SHA
C016 TLS_ECDH_anon_WITH_RC4_128_SHA
C017 TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA
C018 TLS_ECDH_anon_WITH_AES_128_CBC_SHA
C019 TLS_ECDH_anon_WITH_AES_256_CBC_SHA
C023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
C024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
C025 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256
C026 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384
C027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
C028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
C029 TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256
C02A TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384
C02B TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
C02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
C02D TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256
C02E TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384
C02F TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
C030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
C031 TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256
C032 TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384
C050 TLS_RSA_WITH_ARIA_128_GCM_SHA256
C051 TLS_RSA_WITH_ARIA_256_GCM_SHA384
C052 TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256
C053 TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384
C056 TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256
C057 TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384
C05C TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256
C05D TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384
C060 TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256
C061 TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384
C072 TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256
C073 TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384
C076 TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
C077 TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384
C09C TLS_RSA_WITH_AES_128_CCM
C09D TLS_RSA_WITH_AES_256_CCM
C09E TLS_DHE_RSA_WITH_AES_128_CCM
C09F TLS_DHE_RSA_WITH_AES_256_CCM
C0A0 TLS_RSA_WITH_AES_128_CCM_8
C0A1 TLS_RSA_WITH_AES_256_CCM_8
C0A2 TLS_DHE_RSA_WITH_AES_128_CCM_8
C0A3 TLS_DHE_RSA_WITH_AES_256_CCM_8
C0AC TLS_ECDHE_ECDSA_WITH_AES_128_CCM
C0AD TLS_ECDHE_ECDSA_WITH_AES_256_CCM
C0AE TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
C0AF TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8
CCA8 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
CCA9 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
CCAA TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
"""

SCSV = {0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"}


class Suite(NamedTuple):
    """A cipher suite and what its name says about it."""

    id: int
    name: str  # the IANA name
    kx: str  # key exchange: "RSA", "ECDHE", "DHE", "ECDH", "DH", "DH_anon", ... ("any" for TLS 1.3)
    auth: str  # "RSA", "ECDSA", "DSS", "anon", "any"
    cipher: str  # "AES_128_GCM", "3DES_EDE_CBC", "NULL", ...
    mac: str  # "SHA256", "SHA", "MD5", "AEAD"
    tls13: bool

    @property
    def forward_secrecy(self) -> bool:
        return self.tls13 or self.kx.split("_")[0] in ("ECDHE", "DHE")

    @property
    def weaknesses(self) -> tuple[str, ...]:
        """Why this suite is weak, in words (empty for a sound one)."""
        out = []
        c = self.cipher
        if c == "NULL":
            out.append("no encryption (NULL)")
        if self.auth == "anon":
            out.append("no authentication (anonymous): anyone in the path can pose as the server")
        if "EXPORT" in self.kx:
            out.append("export-grade (40/56-bit) keys")
        if c.startswith("RC4"):
            out.append("RC4 (broken, RFC 7465)")
        if c.startswith("DES") or c.startswith("DES40"):
            out.append("single DES (56-bit key)")
        if c.startswith("3DES"):
            out.append("3DES: 64-bit blocks (SWEET32)")
        if c.startswith("RC2"):
            out.append("RC2 (export-grade)")
        if c.startswith("IDEA"):
            out.append("IDEA: 64-bit blocks")
        if self.mac == "MD5":
            out.append("MD5 MAC")
        return tuple(out)


def _split_cipher(rest: str) -> tuple[str, str]:
    """('AES_128_GCM', 'AEAD') from 'AES_128_GCM_SHA256'; ('3DES_EDE_CBC', 'SHA') from '3DES_EDE_CBC_SHA'."""
    parts = rest.split("_")
    if "GCM" in parts or "POLY1305" in parts:
        return "_".join(parts[:-1]), "AEAD"  # the last word names the PRF hash, not a MAC
    if parts[-1] in ("SHA", "SHA256", "SHA384", "MD5"):
        return "_".join(parts[:-1]), parts[-1]
    return rest, "AEAD"  # CCM


def _suite(value: int, name: str) -> Suite:
    body = name.removeprefix("TLS_")
    if "_WITH_" not in body:
        cipher, _prf = _split_cipher(body)
        return Suite(value, name, "any", "any", cipher, "AEAD", True)
    kx_auth, _, rest = body.partition("_WITH_")
    cipher, mac = _split_cipher(rest)
    words = kx_auth.split("_")
    if "anon" in words:
        kx, auth = kx_auth, "anon"
    elif len(words) >= 2 and words[0] in ("ECDHE", "DHE", "ECDH", "DH"):
        kx, auth = "_".join([words[0], *words[2:]]), words[1]
    else:
        kx, auth = kx_auth, words[0]
    return Suite(value, name, kx, auth, cipher, mac, False)


SUITES: dict[int, Suite] = {}
for _line in _SUITE_TABLE.strip().splitlines():
    _code, _name = _line.split()
    SUITES[int(_code, 16)] = _suite(int(_code, 16), _name)
del _line, _code, _name

TLS13_SUITES = tuple(s for s in SUITES.values() if s.tls13)
LEGACY_SUITES = tuple(s for s in SUITES.values() if not s.tls13)


def suite_name(value: int) -> str:
    suite = SUITES.get(value)
    if suite is not None:
        return suite.name
    return SCSV.get(value, _hex(value))


def kx_of(value: int) -> str | None:
    """The key exchange of a (TLS 1.2 and below) suite: 'ECDHE', 'DHE', 'RSA', ...; None if unknown."""
    suite = SUITES.get(value)
    return None if suite is None else suite.kx

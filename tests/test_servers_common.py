"""What the packaged-server launchers share: per-server certificates, the interception CA,
private directories, the STARTTLS lookup fixture and the package names of missing programs."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509

from conftest import STARTTLS_FIXTURES, need, need_binary
from tlsbench.lab import processes
from tlsbench.lab.certs import issue_leaf, make_signing_ca
from tlsbench.lab.processes import ServerUnavailable, require_binary
from tlsbench.lab.service import Endpoint, LabService, private_dir, run_as

pytestmark = pytest.mark.servers


def openssl_verify(ca, cert, untrusted=None) -> str:
    argv = [need_binary("openssl"), "verify", "-CAfile", str(ca)]
    if untrusted:
        argv += ["-untrusted", str(untrusted)]
    done = subprocess.run([*argv, str(cert)], capture_output=True, text=True)
    return done.stdout + done.stderr


def test_issue_leaf_verifies_under_the_lab_ca(lab_certs, tmp_path):
    one = issue_leaf(lab_certs, ("mail.lab.test", "127.0.0.1"), tmp_path, "one")
    two = issue_leaf(lab_certs, ("mail.lab.test", "127.0.0.1"), tmp_path, "two")
    assert ": OK" in openssl_verify(lab_certs.ca_cert, one.cert, lab_certs.intermediate_cert)
    chain = x509.load_pem_x509_certificates(one.chain.read_bytes())
    assert len(chain) == 2 and chain[1].subject.rfc4514_string().startswith("CN=tlsbench Lab Intermediate CA,")
    leaf = chain[0]
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "mail.lab.test"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["mail.lab.test"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    other = x509.load_pem_x509_certificate(two.cert.read_bytes())
    assert other.serial_number != leaf.serial_number and other.public_key() != leaf.public_key()
    assert one.key.stat().st_mode & 0o077 == 0


def test_signing_ca_is_a_root_of_its_own(lab_certs, tmp_path):
    cert, key = make_signing_ca(tmp_path, "bump", "tlsbench Intercepting Proxy CA")
    ca = x509.load_pem_x509_certificate(cert.read_bytes())
    assert ca.subject == ca.issuer
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "error 18 " in openssl_verify(lab_certs.ca_cert, cert)  # the lab does not trust it
    assert key.stat().st_mode & 0o077 == 0


def test_starttls_server_finds_both_variants(starttls_server):
    tls = starttls_server("smtp")
    plain = starttls_server("smtp", tls=False)
    assert isinstance(tls, Endpoint) and tls.tls and not plain.tls
    assert tls.protocol == plain.protocol == "smtp" and tls.port != plain.port
    assert "STARTTLS offered" in tls.description and "no STARTTLS" in plain.description
    with pytest.raises(ValueError, match="gopher"):
        starttls_server("gopher")


def test_every_starttls_protocol_has_a_fixture():
    # The s_client -starttls names of OpenSSL 3.0, but xmpp-server (server to server).
    assert set(STARTTLS_FIXTURES) == {"smtp", "pop3", "imap", "ftp", "xmpp", "lmtp", "nntp", "sieve", "ldap",
                                      "postgres", "mysql", "irc"}


def test_missing_programs_name_their_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(processes, "_SBIN_DIRS", ("/nonexistent",))
    for binary, package in (("squid", "squid-openssl"), ("dovecot", "dovecot-core"), ("mariadbd", "mariadb-server"),
                            ("nnrpd", "inn2"), ("ldapsearch", "ldap-utils")):
        with pytest.raises(ServerUnavailable) as info:
            require_binary(binary)
        assert f"apt-get install {package}" in str(info.value)


def test_a_launcher_cleans_up_its_private_directory(lab_certs):
    from tlsbench.lab.ftp_server import vsftpd

    server = need(vsftpd)
    workdir = server.workdir
    assert isinstance(server, LabService) and workdir.is_dir() and server.started_in is not None
    assert server.endpoint("ftp").port == server.port
    with pytest.raises(KeyError, match="does not serve 'imap'"):
        server.endpoint("imap")
    server.stop()
    assert not workdir.exists() and not server.running


def test_private_dir_belongs_to_the_service_user():
    import os
    import pwd
    import shutil

    d = private_dir("check", "nobody" if os.geteuid() == 0 else None)
    try:
        if os.geteuid() == 0:
            assert d.stat().st_uid == pwd.getpwnam("nobody").pw_uid
            # --pdeathsig=keep: the kernel clears the death signal when the user changes
            assert run_as("nobody")[-6:] == [f"--reuid={pwd.getpwnam('nobody').pw_uid}",
                                            f"--regid={pwd.getpwnam('nobody').pw_gid}", "--init-groups",
                                            "--reset-env", "--pdeathsig=keep", "--"]
        else:
            assert run_as("nobody") == []
        assert d.stat().st_mode & 0o777 == 0o755
    finally:
        shutil.rmtree(d)

"""slapd launchers: StartTLS with a lab certificate, and an LDAP server with no TLS settings,
seen by openssl s_client and ldapsearch."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import handshake_verified, need_binary, s_client

pytestmark = pytest.mark.servers

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"


def ldapsearch(server, cafile, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LDAPTLS_CACERT": str(cafile), "LDAPTLS_REQCERT": "demand"}
    # An address, not "localhost": libldap checks the certificate against the name it finds by
    # reverse lookup, which /etc/hosts may give as the machine's own name.
    return subprocess.run([need_binary("ldapsearch"), "-x", "-LLL", "-o", "nettimeout=10",
                           "-H", f"ldap://127.0.0.1:{server.port}/", *args],
                          capture_output=True, text=True, timeout=30, env=env)


def root_dse(server, cafile) -> str:
    done = ldapsearch(server, cafile, "-b", "", "-s", "base", "supportedExtension")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_slapd_starttls(slapd_tls, lab_certs):
    assert STARTTLS_OID in root_dse(slapd_tls, lab_certs.ca_cert)
    result = s_client(slapd_tls, "ldap", lab_certs.ca_cert)
    assert handshake_verified(result), result.stdout
    assert "CN = ldap.lab.test" in result.stdout
    # ldapsearch -ZZ: StartTLS required, certificate checked against the lab CA and the name.
    done = ldapsearch(slapd_tls, lab_certs.ca_cert, "-ZZ", "-b", "", "-s", "base", "namingContexts")
    assert done.returncode == 0, done.stderr
    assert "namingContexts: dc=lab,dc=test" in done.stdout


def test_slapd_plain_refuses_starttls(slapd_plain, lab_certs):
    assert STARTTLS_OID not in root_dse(slapd_plain, lab_certs.ca_cert)
    result = s_client(slapd_plain, "ldap", lab_certs.ca_cert)
    assert result.returncode != 0 and "CONNECTION ESTABLISHED" not in result.stdout
    done = ldapsearch(slapd_plain, lab_certs.ca_cert, "-ZZ", "-b", "", "-s", "base")
    assert done.returncode != 0 and "unsupported extended operation" in done.stderr

"""DNS servers for the lab and the tests: dnsmasq answering a small zone, unbound in front of it.

dnsmasq holds the names (no system files: `--no-resolv --no-hosts --conf-file=/dev/null`):

    www.lab.test   CNAME edge.lab.test   (TTL 600)
    edge.lab.test  CNAME host.lab.test   (TTL 300)
    host.lab.test  A 127.0.0.1, AAAA ::1 (TTL 120)
    host.lab.test  HTTPS 1 . alpn="h3,h2" port=PORT ech=... ipv4hint=127.0.0.1 ipv6hint=::1
                   (www and edge are CNAMEs and hold nothing else: an HTTPS query for www
                   follows the chain to it, as a browser's does)
    txt.lab.test   TXT only (a name with no address)
    localhost      A 127.0.0.8: a name the system answers from /etc/hosts (127.0.0.1), answered
                   otherwise here (the system resolver and a DNS server that disagree)

A CNAME loop cannot be served (dnsmasq refuses a CNAME to a name it does not hold): the chain's
bounds are tested from messages alone.

unbound forwards everything to dnsmasq and serves it three ways: plain DNS, DNS over TLS
(`tls-port`, RFC 7858) and DNS over HTTPS (`https-port`, RFC 8484, HTTP/2 only), with a
certificate from the lab CA for dns.lab.test, localhost, 127.0.0.1 and ::1. Both run in the
foreground on loopback and high ports, die with the process that started them (ManagedProcess),
and stop on SIGTERM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tlsbench.lab.certs import CertFiles, LabCerts, issue_leaf
from tlsbench.lab.processes import ManagedProcess, free_port, require_binary, start_on_free_port
from tlsbench.lab.service import all_accept, private_dir

ZONE = "lab.test"
CHAIN = ("www.lab.test", "edge.lab.test", "host.lab.test")  # asked name first, the address holder last
TTLS = {"www.lab.test": 600, "edge.lab.test": 300, "host.lab.test": 120}
ADDRESS_V4, ADDRESS_V6 = "127.0.0.1", "::1"
NO_ADDRESS = "txt.lab.test"  # has a TXT record only: NOERROR and no address
DISAGREEING = "127.0.0.8"  # dnsmasq's localhost
DNS_NAME = "dns.lab.test"  # the DoT/DoH server's certificate name
HTTPS_PORT = 8443  # the port the HTTPS record advertises
HTTPS_TTL = 60  # dnsmasq's --local-ttl, which its --dns-rr records get


def _ech_config_list() -> bytes:
    """An ECHConfigList (RFC 9849) holding one draft-13 ECHConfig: X25519, HKDF-SHA256/AES-128-GCM,
    public name lab.test. Its key is a fixed made-up one: the lab advertises ECH, it does not serve it."""
    def vec(n: int, data: bytes) -> bytes:
        return len(data).to_bytes(n, "big") + data

    contents = (b"\x01" + (0x0020).to_bytes(2, "big") + vec(2, bytes(range(32)))
                + vec(2, (1).to_bytes(2, "big") + (1).to_bytes(2, "big")) + b"\x00" + vec(1, b"lab.test")
                + vec(2, b""))
    return vec(2, (0xFE0D).to_bytes(2, "big") + vec(2, contents))


ECH_CONFIG = _ech_config_list()


def https_rdata_hex(port: int = HTTPS_PORT) -> str:
    """The HTTPS record's RDATA (RFC 9460) for host.lab.test: priority 1, target ".", alpn h3,h2,
    port, ech, ipv4hint and ipv6hint, in key order, as dnsmasq's --dns-rr takes it (hex)."""
    def param(key: int, value: bytes) -> bytes:
        return key.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value

    alpn = b"".join(len(p).to_bytes(1, "big") + p for p in (b"h3", b"h2"))
    rdata = (b"\x00\x01" + b"\x00"  # SvcPriority 1, TargetName "." (the owner)
             + param(1, alpn) + param(3, port.to_bytes(2, "big")) + param(4, bytes([127, 0, 0, 1]))
             + param(5, ECH_CONFIG) + param(6, bytes(15) + b"\x01"))
    return rdata.hex()


class Dnsmasq(ManagedProcess):
    """dnsmasq on `host`:`port` (UDP and TCP)."""


def dnsmasq(host: str = "127.0.0.1", port: int | None = None, log_dir: str | os.PathLike | None = None) -> Dnsmasq:
    """Start dnsmasq answering the lab zone (see the module's docstring) and nothing else."""
    binary = require_binary("dnsmasq")
    (www, edge, target) = CHAIN

    def make(p: int) -> Dnsmasq:
        argv = [binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                "--no-poll", "--no-negcache", f"--listen-address={host}", "--bind-interfaces", f"--port={p}",
                "--except-interface=nonexistent0", "--pid-file=", "--user=" + _user(), "--log-facility=-",
                f"--host-record={target},{ADDRESS_V4},{ADDRESS_V6},{TTLS[target]}",
                f"--host-record={DNS_NAME},{ADDRESS_V4},{ADDRESS_V6},60",
                f"--cname={edge},{target},{TTLS[edge]}",
                f"--cname={www},{edge},{TTLS[www]}",
                f"--dns-rr={target},65,{https_rdata_hex()}",
                f"--txt-record={NO_ADDRESS},no address here",
                f"--host-record=localhost,{DISAGREEING}",
                f"--local=/{ZONE}/", f"--local-ttl={HTTPS_TTL}"]
        return Dnsmasq(argv, host=host, port=p, name="dnsmasq", log_dir=log_dir)

    return start_on_free_port(make, host, preferred=port)


def _user() -> str:
    """dnsmasq drops to "nobody" when started as root; anyone else keeps their own user."""
    import pwd

    return "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


@dataclass
class UnboundPorts:
    plain: int
    tls: int
    https: int


class Unbound(ManagedProcess):
    """unbound with its three ports (`ports`) and the certificate it serves (`cert`)."""

    ports: UnboundPorts
    cert: CertFiles
    workdir: Path

    @property
    def dot(self) -> str:
        return f"tls://localhost:{self.ports.tls}"

    @property
    def doh(self) -> str:
        return f"https://localhost:{self.ports.https}/dns-query"

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)


def unbound(upstream: str, upstream_port: int, cert: CertFiles, host: str = "127.0.0.1",
            preferred: UnboundPorts | None = None) -> Unbound:
    """Start unbound forwarding every name to `upstream`:`upstream_port`, on three ports of
    `host`: plain DNS, DoT and DoH (its certificate: `cert`)."""
    binary = require_binary("unbound")
    workdir = private_dir("unbound")
    last: Exception | None = None
    for attempt in range(4):
        ports = preferred if (attempt == 0 and preferred) else UnboundPorts(free_port(host), free_port(host),
                                                                          free_port(host))
        conf = workdir / "unbound.conf"
        conf.write_text(_unbound_conf(host, ports, cert, upstream, upstream_port, workdir))
        server = Unbound([binary, "-d", "-p", "-c", str(conf)], host=host, port=ports.plain, name="unbound",
                         log_dir=workdir, ready_check=all_accept(host, (ports.plain, ports.tls, ports.https)))
        server.ports, server.cert, server.workdir = ports, cert, workdir
        try:
            return server.start()
        except Exception as exc:  # a port lost to a race: another set
            last = exc
            if "in use" not in str(exc).lower() and "could not open" not in str(exc).lower():
                break
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    assert last is not None
    raise last


def _unbound_conf(host: str, ports: UnboundPorts, cert: CertFiles, upstream: str, upstream_port: int,
                  workdir: Path) -> str:
    return f"""server:
    interface: {host}@{ports.plain}
    interface: {host}@{ports.tls}
    interface: {host}@{ports.https}
    port: {ports.plain}
    tls-port: {ports.tls}
    https-port: {ports.https}
    tls-service-key: "{cert.key}"
    tls-service-pem: "{cert.chain}"
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{workdir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-ip6: no
    do-not-query-localhost: no
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    qname-minimisation: no
    serve-expired: no
    harden-referral-path: no
    target-fetch-policy: "0 0 0 0 0"
    num-threads: 1
    local-zone: "test." nodefault
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: {upstream}@{upstream_port}
"""


@dataclass
class DnsLab:
    """The lab's DNS: dnsmasq (the names) and unbound (plain, DoT, DoH in front of it)."""

    dnsmasq: Dnsmasq
    unbound: Unbound
    ca: Path  # the CA file that verifies unbound's certificate

    @property
    def plain(self) -> str:
        """unbound's plain DNS port, as --dns-servers takes it."""
        return f"127.0.0.1:{self.unbound.ports.plain}"

    @property
    def direct(self) -> str:
        """dnsmasq itself, as --dns-servers takes it."""
        return f"127.0.0.1:{self.dnsmasq.port}"

    @property
    def dot(self) -> str:
        return self.unbound.dot

    @property
    def doh(self) -> str:
        return self.unbound.doh

    def stop(self) -> None:
        self.unbound.stop()
        self.dnsmasq.stop()


def dns_lab(certs: LabCerts, directory: str | os.PathLike, *, dnsmasq_port: int | None = None,
            unbound_ports: UnboundPorts | None = None) -> DnsLab:
    """Start dnsmasq and unbound in front of it; the certificate is issued into `directory`."""
    cert = issue_leaf(certs, (DNS_NAME, "localhost", "127.0.0.1", "::1"), directory, "dns")
    names = dnsmasq(port=dnsmasq_port)
    try:
        front = unbound("127.0.0.1", names.port, cert, preferred=unbound_ports)
    except BaseException:
        names.stop()
        raise
    return DnsLab(names, front, certs.ca_cert)

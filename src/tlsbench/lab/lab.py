"""The lab: real servers on loopback that reproduce the seed situations, each described as an
entry (name, one-line description, and the ConnectionSpec that reproduces it). The STARTTLS
situations (the MTA, dovecot) need root: for anyone else they are marked not running, with a note.

Certificates live in `<data dir>/lab/certs` and are remade when missing or stale; runtime files
(logs, nginx prefix) go to a temporary directory removed by `stop()`. A situation whose server
cannot start stays an entry, marked `unavailable` with the reason. Each server first tries
its preferred port so profiles stay the same between starts, and takes a free one when busy.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tlsbench.engine.spec import ConnectionSpec, build_spec, format_hostport
from tlsbench.lab import children
from tlsbench.lab.certs import LabCerts, ensure_lab_certs
from tlsbench.lab.openssl_server import TlsServerOptions, openssl_server
from tlsbench.lab.processes import LabError, ServerUnavailable, port_is_free, require_binary
from tlsbench.lab.tempdirs import make_temp_dir, remove_stale_temp_dirs
from tlsbench.lab.tiny_servers import BannerServer, PlainHttpServer, SilentServer

LAB_HOST = "localhost"  # the name the seeds connect to; the good certificates carry it
LOOPBACK = "127.0.0.1"
SNI_NAME = "www.lab.test"  # exists only in the lab: reached by pinning its address
PREFERRED_PORTS = {"good": 44301, "expired": 44302, "sni": 44303, "socks5": 41080,
                   "plaintext": 48080, "banner": 42525, "silent": 44304, "smtp-starttls": 42587,
                   "smtp-plain": 42588, "imap": 42143, "pop3": 42110, "lmtp": 42024, "sieve": 44190,
                   "http3": 44305,
                   "dnsmasq": 45353, "dns": 45354, "dns-tls": 45853, "dns-https": 45443}

H2_WORDS = ("HTTP/2 after ALPN (--http2, offering h2,http/1.1 as curl does): the server chooses h2, the app row "
            "speaks it (preface, SETTINGS both ways, one GET) and shows the status and header fields; -v lists "
            "every frame with its time.")
MAIL_NAME = "mail.lab.test"  # the mail servers' certificate name, reached by pinning their address
STARTTLS_ENTRIES = ("lab-smtp-starttls", "lab-smtp-no-starttls", "lab-imap-starttls")
# For a STARTTLS situation whose server cannot start: (port key, protocol, address, what it shows)
NOT_RUNNING = {
    "lab-smtp-starttls": ("smtp-starttls", "smtp", LOOPBACK, "An SMTP server offering STARTTLS"),
    "lab-smtp-no-starttls": ("smtp-plain", "smtp", LOOPBACK, "An SMTP server without STARTTLS: starttls-not-offered"),
    "lab-imap-starttls": ("imap", "imap", "127.0.0.2", "dovecot's IMAP with STARTTLS"),  # DOVECOT_HOST
}
SILENT_TIMEOUT = 3.0


@dataclass(frozen=True)
class LabEntry:
    """One seed situation: `name` is also its profile name ("lab-...")."""

    name: str
    description: str  # what it reproduces and what to look for
    spec: ConnectionSpec
    served_by: str  # the software answering, e.g. "openssl s_server"
    unavailable: str = ""  # why its server is not running here ("" when it runs)

    @property
    def address(self) -> str:
        text = self.spec.target
        if self.spec.pin:
            text += f" (pinned to {self.spec.pin})"
        if self.spec.proxy:
            text += f" via {self.spec.proxy.kind} {format_hostport(self.spec.proxy.host, self.spec.proxy.port)}"
        return text


def probe_command(spec: ConnectionSpec) -> str:
    """The `tlsbench probe` command line that runs `spec`."""
    from tlsbench.engine.equivalents import tlsbench_command

    return tlsbench_command(spec).command


def _localhost_has_ipv6() -> bool:
    try:
        infos = socket.getaddrinfo(LAB_HOST, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except OSError:
        return False
    return any(info[0] == socket.AF_INET6 for info in infos)


def _lifetime(cert_path: Path) -> str:
    """'expired 30 days ago', counted as the chain stage counts it (the lab keeps its certificates)."""
    import datetime as dt

    from cryptography import x509

    from tlsbench.engine.records.details import lifetime_words, whole_days_left

    ends = x509.load_pem_x509_certificate(Path(cert_path).read_bytes()).not_valid_after_utc
    return lifetime_words(whole_days_left((ends - dt.datetime.now(dt.timezone.utc)).total_seconds()))


@dataclass
class Lab:
    """Start with `start()` (or `with Lab() as lab:`); `entries` then describe the seeds."""

    data_dir: Path | None = None  # default: tlsbench.locations.data_dir()
    preferred_ports: dict[str, int] = field(default_factory=lambda: dict(PREFERRED_PORTS))
    entries: list[LabEntry] = field(default_factory=list, init=False)
    notes: list[str] = field(default_factory=list, init=False)  # fallbacks taken, one line each
    certs: LabCerts | None = field(default=None, init=False)
    _servers: list = field(default_factory=list, init=False, repr=False)
    _run_dir: Path | None = field(default=None, init=False, repr=False)
    _twin_v6: bool = field(default=False, init=False, repr=False)

    # --- life cycle ---
    def start(self) -> "Lab":
        if self.entries:
            return self
        if self.data_dir is None:
            from tlsbench.locations import data_dir

            self.data_dir = data_dir()
        require_binary("openssl")  # the one program every TLS seed needs
        children.sweep()  # what a lab that was killed left running, then its directories
        remove_stale_temp_dirs()
        self._run_dir = make_temp_dir("tlsbench-lab-")
        self._twin_v6 = _localhost_has_ipv6()
        try:
            self.certs = ensure_lab_certs(Path(self.data_dir) / "lab" / "certs", names=(SNI_NAME,))
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self._servers):
            try:
                server.stop()
            except OSError:
                pass
        self._servers.clear()
        self.entries.clear()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def entry(self, name: str) -> LabEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(name)

    # --- helpers ---
    def _keep(self, server):
        self._servers.append(server)
        return server

    def _log_dir(self, name: str) -> Path:
        assert self._run_dir is not None
        path = self._run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _tls(self, key: str, options: TlsServerOptions):
        server = self._keep(openssl_server(options, LOOPBACK, self.preferred_ports.get(key), self._log_dir(key)))
        if self._twin_v6 and port_is_free("::1", server.port):
            # "localhost" may resolve to ::1 first: serve the same port there too.
            try:
                self._keep(openssl_server(options, "::1", server.port, self._log_dir(key + "-v6")))
            except (ServerUnavailable, OSError, RuntimeError):
                pass
        return server

    def _tiny(self, key: str, make: Callable[..., object]):
        preferred = self.preferred_ports.get(key, 0)
        port = preferred if preferred and port_is_free(LOOPBACK, preferred) else 0
        server = self._keep(make(host=LOOPBACK, port=port))
        if self._twin_v6:
            try:
                self._keep(make(host="::1", port=server.port))
            except OSError:
                pass
        return server

    def _spec(self, port: int, host: str = LAB_HOST, **options) -> ConnectionSpec:
        return build_spec(format_hostport(host, port), **options)

    def _add(self, name: str, description: str, spec: ConnectionSpec, served_by: str) -> None:
        self.entries.append(LabEntry(name, description, spec, served_by))

    def _not_running(self, names: tuple[str, ...], reason: str) -> None:
        """Keep situations whose server could not start, marked with why: a profile that vanished
        would leave a person wondering; one that says why tells them what to install or run."""
        ca = str(self.certs.ca_cert) if self.certs else None
        for name in names:
            key, protocol, pin, what = NOT_RUNNING[name]
            port = self.preferred_ports.get(key) or PREFERRED_PORTS[key]
            spec = self._spec(port, MAIL_NAME, pin=pin, cafile=ca, starttls=protocol)
            self.entries.append(LabEntry(name, what, spec, "not running", unavailable=reason))

    # --- the seeds ---
    def _start_all(self) -> None:
        certs = self.certs
        assert certs is not None
        ca = str(certs.ca_cert)

        good = self._tls("good", TlsServerOptions(certs.good))
        self._add("lab-good-tls",
                  "A healthy TLS server with its own CA: every stage ok; look at the chain (leaf + "
                  "intermediate), the negotiated version and your ephemeral port.",
                  self._spec(good.port, cafile=ca, http=True), "openssl s_server")

        self._start_socks(good.port, ca)
        self._start_sni(certs, ca)

        plain = self._tiny("plaintext", PlainHttpServer)
        self._add("lab-plaintext-port",
                  "TLS spoken to a plain HTTP port: the answer starts with 'HTTP/1.1 400', not a TLS "
                  "record; look at the first bytes the server sent (use http://, or the TLS port).",
                  self._spec(plain.port, cafile=ca), "tlsbench plain HTTP server")

        banner = self._tiny("banner", lambda host, port: BannerServer("smtp", host=host, port=port))
        self._add("lab-smtp-banner",
                  "TLS spoken to a mail port: the server greets with '220 ... ESMTP' first; the "
                  "finding names --starttls smtp or the implicit-TLS port. This port only greets (it answers "
                  "anything with 500): with STARTTLS, its 500 to EHLO shows it is no SMTP server (the real "
                  "one: lab-smtp-starttls).",
                  self._spec(banner.port, cafile=ca), "tlsbench SMTP banner server")

        expired = self._tls("expired", TlsServerOptions(certs.expired))
        self._add("lab-expired",
                  f"A certificate that {_lifetime(certs.expired.cert)}: the chain stage fails with verify "
                  "code 10; look at the leaf's validity dates.",
                  self._spec(expired.port, cafile=ca, http=True), "openssl s_server")

        silent = self._tiny("silent", SilentServer)
        self._add("lab-silent",
                  f"A port that accepts and never answers: tcp succeeds, then the TLS stage waits "
                  f"for its {SILENT_TIMEOUT:g}s timeout; compare with a refused port.",
                  self._spec(silent.port, cafile=ca, timeout=SILENT_TIMEOUT), "tlsbench silent server")

        self._start_http3(certs, ca)
        self._start_dns(good.port, ca)
        self._start_starttls(certs, ca)

    def _start_http3(self, certs: LabCerts, ca: str) -> None:
        """caddy serving h1, h2 and h3 on one port, TCP and UDP: --http3 races QUIC and TCP+TLS."""
        from tlsbench.lab.caddy_server import CaddyOptions, caddy_http3

        port = self.preferred_ports.get("http3")
        words = ("HTTP/3 over QUIC beside HTTP over TCP+TLS on one port (caddy): the quic row shows the "
                 "Initial, the first server packet and the handshake, QUIC version and ALPN h3; the app row says "
                 "which attempt won and carries the request (HTTP/3 200 when QUIC wins).")
        try:
            server = self._keep(caddy_http3(CaddyOptions(certs.good, also_bind=("::1",) if self._twin_v6 else ()),
                                            LOOPBACK, port, prefix=self._log_dir("caddy")))
        except LabError as exc:
            self.notes.append(f"{exc}: lab-http2 and lab-http3 not running")
            spec = self._spec(port or PREFERRED_PORTS["http3"], cafile=ca, http3="race")
            h2 = self._spec(port or PREFERRED_PORTS["http3"], cafile=ca, http=True, alpn="h2,http/1.1")
            self.entries.append(LabEntry("lab-http2", H2_WORDS, h2, "not running", unavailable=str(exc)))
            self.entries.append(LabEntry("lab-http3", words, spec, "not running", unavailable=str(exc)))
            return
        self._add("lab-http2", H2_WORDS, self._spec(server.port, cafile=ca, http=True, alpn="h2,http/1.1"), "caddy")
        self._add("lab-http3", words, self._spec(server.port, cafile=ca, http3="race"), "caddy")

    def _start_socks(self, tls_port: int, ca: str) -> None:
        from tlsbench.lab import socks_servers

        port = self.preferred_ports.get("socks5")
        try:
            proxy = self._keep(socks_servers.microsocks(LOOPBACK, port))
        except LabError as exc:
            self.notes.append(f"{exc}; using pproxy as the SOCKS5 proxy instead")
            try:
                proxy = self._keep(socks_servers.pproxy_socks5(LOOPBACK, port))
            except LabError as again:
                self.notes.append(f"{again}: lab-socks5-tls skipped")
                where = format_hostport(LOOPBACK, port or PREFERRED_PORTS["socks5"])
                self.entries.append(LabEntry(
                    "lab-socks5-tls", "The good TLS server through a real SOCKS5 proxy with remote DNS.",
                    self._spec(tls_port, cafile=ca, http=True, proxies=[f"socks5h://{where}"]), "not running",
                    unavailable=f"no SOCKS5 proxy: {exc}; and {again}"))
                return
        self._add("lab-socks5-tls",
                  f"The good TLS server through a real SOCKS5 proxy ({proxy.kind}) with remote DNS: "
                  "tcp goes to the proxy, the proxy stage shows the name sent and the reply.",
                  self._spec(tls_port, cafile=ca, http=True, proxies=[f"socks5h://{proxy.address}"]),
                  f"{proxy.kind} + openssl s_server")

    def _start_sni(self, certs: LabCerts, ca: str) -> None:
        from tlsbench.lab.nginx_server import nginx_sni_strict

        port = self.preferred_ports.get("sni")
        try:
            server = self._keep(nginx_sni_strict(certs.good, (SNI_NAME,), LOOPBACK, port,
                                                 prefix=self._log_dir("nginx")))
            served_by, strict_without_sni = "nginx (ssl_reject_handshake)", True
        except LabError as exc:  # not installed, or it would not start: s_server stands in
            self.notes.append(f"{exc}; the SNI-strict server is openssl s_server -servername_fatal, "
                              "which rejects a wrong name but serves a handshake without SNI")
            server = self._tls("sni", TlsServerOptions(certs.good, sni_name=SNI_NAME, sni_cert=certs.good,
                                                       sni_fatal=True))
            served_by, strict_without_sni = "openssl s_server -servername_fatal", False
        self._add("lab-sni-pinned",
                  f"An SNI-strict server for {SNI_NAME}, a name no DNS knows: pinning 127.0.0.1 (like "
                  "curl --resolve) keeps the name for SNI and verification, so it works.",
                  self._spec(server.port, SNI_NAME, pin=LOOPBACK, cafile=ca, http=True), served_by)
        if strict_without_sni:
            self._add("lab-sni-missing",
                      "The same SNI-strict server by IP address: no SNI is sent, the server aborts "
                      "with an unrecognized_name alert; pin the name instead (see lab-sni-pinned).",
                      self._spec(server.port, LOOPBACK, cafile=ca, http=True), served_by)
        else:
            self._add("lab-sni-missing",
                      "The same SNI-strict server asked for a name it does not serve: it aborts with "
                      "an unrecognized_name alert; send the right name (see lab-sni-pinned).",
                      self._spec(server.port, SNI_NAME, pin=LOOPBACK, sni="unknown.lab.test", cafile=ca),
                      served_by)

    def _start_dns(self, tls_port: int, ca: str) -> None:
        """dnsmasq with a three-name CNAME chain and an HTTPS record, unbound in front of it (plain DNS,
        DoT, DoH): the good server reached as www.lab.test through each, tlsbench's own queries deciding."""
        from tlsbench.lab import dns_servers

        assert self.certs is not None
        ports = self.preferred_ports
        unbound_ports = None
        if all(ports.get(k) for k in ("dns", "dns-tls", "dns-https")):
            unbound_ports = dns_servers.UnboundPorts(ports["dns"], ports["dns-tls"], ports["dns-https"])
        target = (tls_port, dns_servers.CHAIN[0])
        chain = " -> ".join(dns_servers.CHAIN)
        seeds = (
            ("lab-dns-plain", "plain DNS (UDP) to unbound", "dnsmasq + unbound"),
            ("lab-dns-dot", "DNS over TLS (RFC 7858) to unbound, verified with the lab CA", "dnsmasq + unbound (DoT)"),
            ("lab-dns-doh", "DNS over HTTPS (RFC 8484, HTTP/2) to unbound, verified with the lab CA",
             "dnsmasq + unbound (DoH)"),
        )
        try:
            lab = self._keep(dns_servers.dns_lab(self.certs, self._log_dir("dns"), dnsmasq_port=ports.get("dnsmasq"),
                                                 unbound_ports=unbound_ports))
        except LabError as exc:
            self.notes.append(f"{exc}: {', '.join(s[0] for s in seeds)} skipped")
            dot, doh = "tls://localhost:853", "https://localhost/dns-query"
            for (name, how, _), server in zip(seeds, ("127.0.0.1:53", dot, doh)):
                self.entries.append(LabEntry(name, f"{chain} over {how}.", self._dns_spec(target, server, ca),
                                             "not running", unavailable=str(exc)))
            return
        for (name, how, served_by), server in zip(seeds, (lab.plain, lab.dot, lab.doh)):
            description = (f"www.lab.test resolved by tlsbench's own queries, {how}: the resolve row shows A and "
                           f"AAAA apart with their times, the CNAME chain {chain} with its TTLs, and the HTTPS "
                           "record (alpn h3,h2, ech: an info finding says HTTP/3 is offered).")
            self.entries.append(LabEntry(name, description, self._dns_spec(target, server, ca), served_by))

    def _dns_spec(self, target: tuple[int, str], server: str, ca: str) -> ConnectionSpec:
        port, host = target
        if server.startswith("https://"):
            return self._spec(port, host, cafile=ca, http=True, doh_url=server)
        return self._spec(port, host, cafile=ca, http=True, dns_servers=server)

    def _start_starttls(self, certs: LabCerts, ca: str) -> None:
        """The machine's MTA (postfix or exim4) with and without STARTTLS, dovecot's IMAP with it. They
        start as root and switch to their own users: for anyone else these situations are skipped,
        with a note that says so."""
        from tlsbench.lab import mail_servers
        from tlsbench.lab.certs import issue_leaf
        from tlsbench.lab.service import is_root

        if not is_root():
            self.notes.append(f"not root: {', '.join(STARTTLS_ENTRIES)} skipped (the MTA and dovecot start as root "
                              "and switch to their own users; run the lab with sudo to have them)")
            self._not_running(STARTTLS_ENTRIES, "not root: the mail servers start as root and switch to their "
                              "own users; run the lab with sudo to have them")
            return
        leaf = issue_leaf(certs, (MAIL_NAME, LOOPBACK, mail_servers.DOVECOT_HOST, LAB_HOST), self._log_dir("mail"),
                          "mail")
        ports = self.preferred_ports
        try:
            smtp = self._keep(mail_servers.smtp_server(leaf, port=ports.get("smtp-starttls")))
            plain = self._keep(mail_servers.smtp_server(None, port=ports.get("smtp-plain")))
        except LabError as exc:  # not installed, or it would not start
            self.notes.append(f"{exc}: lab-smtp-starttls and lab-smtp-no-starttls skipped")
            self._not_running(("lab-smtp-starttls", "lab-smtp-no-starttls"), str(exc))
        else:
            self._add("lab-smtp-starttls",
                      f"{smtp.name} offering STARTTLS: the starttls row shows the greeting, EHLO and its "
                      "answer, STARTTLS and '220 Ready to start TLS', each line timed; TLS then runs on the "
                      "same connection, and the app row asks EHLO again over TLS.",
                      self._spec(smtp.port, MAIL_NAME, pin=LOOPBACK, cafile=ca, starttls="smtp"), smtp.name)
            self._add("lab-smtp-no-starttls",
                      f"{plain.name} without TLS: EHLO lists no STARTTLS, the command sent anyway is "
                      "refused: starttls-not-offered, with the server's words.",
                      self._spec(plain.port, MAIL_NAME, pin=LOOPBACK, cafile=ca, starttls="smtp"), plain.name)
        wanted = {p: ports[p] for p in mail_servers.DOVECOT_PROTOCOLS if ports.get(p)}
        try:
            dovecot = self._keep(mail_servers.dovecot(leaf, ports=wanted or None))
        except LabError as exc:
            self.notes.append(f"{exc}: lab-imap-starttls skipped")
            self._not_running(("lab-imap-starttls",), str(exc))
            return
        imap = dovecot.endpoint("imap")
        self._add("lab-imap-starttls",
                  "dovecot's IMAP with STARTTLS: before TLS the capabilities say LOGINDISABLED; the app row "
                  "asks CAPABILITY again over TLS, where AUTH=PLAIN appears.",
                  self._spec(imap.port, MAIL_NAME, pin=imap.host, cafile=ca, starttls="imap"), "dovecot")

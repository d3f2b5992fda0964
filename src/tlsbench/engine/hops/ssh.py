"""An ssh:// hop: the system's `ssh -W NEXT:PORT` to the next address, as OpenSSH's ProxyJump does.

ssh looks the SSH server up, connects, checks its host key against known_hosts, signs in with a
key or the agent (BatchMode: never a password, never a question) and asks the server for a
channel to the next address. Its stdin and stdout are one end of a socketpair; the other end
becomes the run's stream, so TLS (or another hop) runs over it like over any tunnel. The stage
waits, within its timeout, for ssh's word that the channel is open (`-vv`: "open confirm") or for
ssh to end; ssh's stderr is the evidence a failure is worded from. ssh ends with the run's
connection (closing the stream ends it) or when the run is cancelled.

ssh reads its own configuration (~/.ssh/config, the agent); $TLSBENCH_SSH_CONFIG names another
configuration file instead (`ssh -F FILE`).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from typing import IO

from tlsbench.engine.findings.catalogue import finding
from tlsbench.engine.findings.model import Evidence, Finding
from tlsbench.engine.plan import Plan, Step
from tlsbench.engine.records.details import ProxyDetail
from tlsbench.engine.route.hostport import format_hostport, is_ip
from tlsbench.engine.stages.context import RunState, StageContext, StageOutcome
from tlsbench.engine.stream import Link, SocketStream
from tlsbench.errors import Cancelled, InputError

SSH_CONFIG_ENV = "TLSBENCH_SSH_CONFIG"
KEEP_LINES = 200  # lines of ssh's stderr kept (the rest is read and dropped, so ssh never blocks)
_POLL = 0.05
_OPEN = re.compile(r"channel \d+: open confirm")
# What ssh says that a person needs; its debug lines are kept only when they say one of these.
_TOLD = ("Connecting to", "Connection established", "Server host key:", "Authenticated to", "is known and matches",
         "Found key in", "channel_connect_stdio_fwd", "Offering public key", "Server accepts key", "Trying private key",
         "load_hostkeys: fopen", "Will attempt key")


class SshSocket(socket.socket):
    """tlsbench's end of the socketpair; closing it ends the ssh process behind it."""

    proc: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        super().close()
        end(self.proc)


def end(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop ssh (terminate, then kill) and reap it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(1.0)
    except OSError:
        pass


class _Stderr(threading.Thread):
    """Reads ssh's stderr to its end: the lines kept, and an event when the channel opened or ssh ended."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(name="ssh stderr", daemon=True)
        self.pipe = pipe
        self.lines: list[str] = []
        self.opened = threading.Event()
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            for raw in self.pipe:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if _OPEN.search(line):
                    self.opened.set()
                if len(self.lines) < KEEP_LINES and (not line.startswith("debug") or any(t in line for t in _TOLD)):
                    self.lines.append(line)
        except (OSError, ValueError):
            pass
        finally:
            self.ended.set()
            self.opened.set()


class SshHop:
    def __init__(self, step: Step, plan: Plan) -> None:
        self.step = step
        self.spec = plan.spec
        assert step.hop is not None  # a proxy step always names its hop
        self.hop = step.hop
        found = shutil.which("ssh")
        if found is None:
            raise InputError("ssh:// needs the ssh client, which is not installed (Debian package: openssh-client)",
                             field="proxy")
        self.binary = found
        self.config = os.environ.get(SSH_CONFIG_ENV) or None

    def _common(self) -> list[str]:
        hop, argv = self.hop, [self.binary]
        if self.config:
            argv += ["-F", self.config]
        argv += ["-p", str(hop.port)]
        if hop.username:
            argv += ["-l", hop.username]
        if self.spec.local.family:
            argv.append(f"-{self.spec.local.family}")
        return argv

    def argv(self, requested: str) -> list[str]:
        seconds = max(1, math.ceil(self.spec.timeout))
        return [*self._common(), "-vv", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
                "-o", f"ConnectTimeout={seconds}", "-W", requested, "--", self.hop.host]

    def run(self, ctx: StageContext, state: RunState, dest: str, port: int, behind: str) -> StageOutcome:
        hop = self.hop
        requested = format_hostport(dest, port)
        argv = self.argv(requested)
        detail = ProxyDetail(kind=hop.kind, proxy=hop.address, auth="publickey (ssh's keys or agent; BatchMode)",
                             address_type="IPv6" if ":" in dest else ("IPv4" if is_ip(dest) else "domain name"),
                             requested=requested, sent_text=shlex.join(argv))
        ours, theirs = socket.socketpair()
        ctx.begin()
        try:
            proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.PIPE, close_fds=True,
                                    start_new_session=True)  # no terminal signal reaches it: tlsbench ends it
        except OSError as exc:
            ours.close()
            theirs.close()
            ctx.end()
            raise InputError(f"ssh could not be started: {exc.strerror or exc}", field="proxy") from None
        theirs.close()
        sock = SshSocket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=ours.detach())
        sock.proc = proc
        ctx.cancel.on_cancel(lambda: end(proc))
        state.link = Link(sock, ctx.cancel)
        state.stream = SocketStream(state.link)
        assert proc.stderr is not None
        reader = _Stderr(proc.stderr)
        reader.start()
        deadline = time.monotonic() + self.spec.timeout
        try:
            while not reader.opened.wait(_POLL):
                if ctx.cancel.cancelled:
                    raise Cancelled("cancelled")
                if time.monotonic() >= deadline:
                    break
        finally:
            ctx.end()
        if reader.opened.is_set() and not reader.ended.is_set():
            method = next((m.group(1) for ln in reader.lines if (m := re.search(r'Authenticated to .* using "(\S+)"', ln))),
                          None)
            detail = detail._replace(received_text="\n".join(reader.lines) or None, reply_meaning="channel open")
            return StageOutcome(True, detail, f"ssh {hop.address}: channel to {requested} open"
                                + (f" (signed in with {method})" if method else ""))
        if ctx.cancel.cancelled:
            raise Cancelled("cancelled")
        stopped = not reader.ended.is_set()  # the stage's time ran out with ssh still at work: tlsbench ends it
        end(proc)
        reader.ended.wait(1.0)
        code = proc.poll()
        lines = tuple(reader.lines)
        found = self._diagnose(lines, requested, behind, timed_out=stopped)
        detail = detail._replace(received_text="\n".join(lines) or None, error=found.title,
                                 reply_code=code if code is not None and code >= 0 else None)
        return StageOutcome(False, detail, found.title, (found,))

    # --- what ssh's words mean ---------------------------------------------------------------

    def _diagnose(self, lines: tuple[str, ...], requested: str, behind: str, *, timed_out: bool) -> Finding:
        hop = self.hop
        said = [ln for ln in lines if not ln.startswith("debug") and not ln.startswith("OpenSSH_")]
        ev = [Evidence("proxy", hop.url), Evidence("command", shlex.join(self.argv(requested)))]
        ev += [Evidence("ssh said", ln) for ln in said[-8:]]
        key = next((ln.split("Server host key:", 1)[1].strip() for ln in lines if "Server host key:" in ln), None)
        text = "\n".join(said)
        if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
            return self._host_key(text, key, ev)
        if "Permission denied" in text:
            user = hop.username or "the user ssh's configuration names (default: your login name)"
            return finding("proxy-auth-failed", f"The SSH server {hop.address} accepted none of the keys offered",
                           f"ssh signed in with keys only (BatchMode: no password, no question) and the server "
                           f"refused every one for {user}: {_last(said, 'Permission denied')}.",
                           f"See which keys ssh offers with `{self._shell_hint()} -v` (lines 'Offering public key'), "
                           "load the right one into the agent (`ssh-add -l` lists them) or name it with IdentityFile "
                           "in ssh's configuration, and check that its public key is in the server's "
                           "authorized_keys for that user.", ev)
        refused = _channel_failure(text)
        if refused is not None:
            return self._channel(refused, requested, behind, ev)
        reach = next((ln for ln in said if ln.startswith(("ssh: connect to host", "ssh: Could not resolve"))), None)
        if reach is not None and "banner exchange" not in reach:
            why = reach
            return finding("proxy-unreachable", f"ssh could not reach the SSH server {hop.address}",
                           f"ssh made its own connection to the SSH server and it failed: {why}. The next address "
                           "was never asked for.",
                           "Check the ssh:// host and port (and ssh's configuration for that host: `"
                           f"{self._shell_hint()} -G` shows what it resolves to), and that sshd runs there.",
                           ev, origin="network", stage="proxy")
        if timed_out or "during banner exchange" in text:
            return finding("proxy-timeout", f"ssh did not open the channel to {requested} within "
                           f"{self.spec.timeout:g} s",
                           "ssh was still connecting, signing in or waiting for the SSH server to open the channel "
                           "when the stage's time ran out.",
                           "Check the SSH server's reachability and load; if the target is slow to reach, raise "
                           "the timeout.", ev)
        return finding("proxy-closed", f"ssh ended without opening a channel to {requested}",
                       f"ssh ended before the SSH server confirmed the channel: {said[-1] if said else 'it said nothing'}.",
                       "Read what ssh said (the evidence); run the command shown by hand with -v for more.", ev)

    def _channel(self, reason: str, requested: str, behind: str, ev: list[Evidence]) -> Finding:
        hop = self.hop
        ev.append(Evidence("requested", requested))
        if reason.startswith("administratively prohibited"):
            return finding("proxy-denied", f"The SSH server {hop.address} does not allow a channel to {requested}",
                           "The server refused to open the channel by its rules (\"administratively prohibited\": "
                           "AllowTcpForwarding, PermitOpen, or the key's options in authorized_keys).",
                           "Ask the server's administrator to allow forwarding to that address for this user.", ev)
        if "Connection refused" in reason:
            return finding("proxy-target-refused", f"{behind[0].upper()}{behind[1:]} ({requested}) refused the "
                           "SSH server's connection",
                           "ssh signed in and the SSH server tried the address, but nothing listens on that port "
                           f"(the server reported: {reason}).",
                           f"Check that {behind} is up and listening on that port; the SSH hop itself works.", ev,
                           origin="peer")
        return finding("proxy-target-unreachable", f"The SSH server {hop.address} could not reach {requested}",
                       f"The server reported: {reason}.",
                       "Check the target name and address from the SSH server's side (its DNS and routes).", ev)

    def _host_key(self, text: str, key: str | None, ev: list[Evidence]) -> Finding:
        hop = self.hop
        files = self._known_hosts()
        where = ", ".join(files) if files else "ssh's known_hosts files"
        name = hop.host if hop.port == 22 else f"[{hop.host}]:{hop.port}"
        if key:
            ev.append(Evidence("host key sent", key))
        ev.append(Evidence("known_hosts", where))
        check = (f"Compare the fingerprint {'(' + key + ') ' if key else ''}with the one the server's administrator "
                 "reads on the server (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`, or the key type ssh "
                 f"named); `ssh-keygen -F '{name}' -l -f FILE` shows what {where} holds for it.")
        if "HAS CHANGED" in text:
            return finding("proxy-host-key-unverified", f"The SSH server {hop.address} sent another host key than "
                           "known_hosts holds",
                           f"ssh refused the server: the key it sent differs from the one recorded in {where}. The "
                           "server may have been reinstalled, or something between answers in its place.",
                           f"{check} Only when they match, replace the old line (`ssh-keygen -R '{name}' -f FILE`).",
                           ev, origin="proxy")
        return finding("proxy-host-key-unverified", f"The SSH server {hop.address}'s host key is not in known_hosts",
                       f"ssh does not know this server's host key (looked in {where}) and, with BatchMode, does not "
                       "ask: it refused the connection before signing in.",
                       f"{check} Only when they match, add it (connect once with `{self._shell_hint()}` and answer "
                       "yes, or append the server's public key line for that name).", ev, origin="local")

    def _known_hosts(self) -> list[str]:
        """The known_hosts files ssh reads for this host (`ssh -G`), after the stage's clock."""
        try:
            out = subprocess.run([*self._common(), "-G", "--", self.hop.host], capture_output=True, timeout=5,
                                 stdin=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError):
            return []
        files: list[str] = []
        for line in out.splitlines():
            option, _, value = line.partition(" ")
            if option in ("userknownhostsfile", "globalknownhostsfile"):
                files += [f for f in value.split() if f != "/dev/null"]
        return files

    def _shell_hint(self) -> str:
        return shlex.join(self._common()[:1] + ["-p", str(self.hop.port)]
                          + (["-F", self.config] if self.config else [])
                          + [f"{self.hop.username}@{self.hop.host}" if self.hop.username else self.hop.host])


def _channel_failure(text: str) -> str | None:
    """The reason in ssh's "channel N: open failed: REASON", or None."""
    m = re.search(r"channel \d+: open failed: (.+)", text)
    return m.group(1).strip() if m else None


def _last(lines: list[str], needle: str) -> str:
    return next((ln for ln in reversed(lines) if needle in ln), lines[-1] if lines else "")

"""A throwaway Dovecot on a free loopback port, for tests and benchmarks (stdlib only).

The recipe of shared/backends.md "IMAP": a temp dir (mode 0755, so Dovecot's
auth process can read the users file), a passwd-file of ``user:{PLAIN}secret``
lines, a mail dir owned by ``nobody:nogroup``, ``dovecot -c conf -F`` in the
foreground, then wait until the port answers. Needs root and the Debian
package ``dovecot-imapd``.

Messages are loaded fast by writing Maildir files directly (10,000 in about a
second) instead of APPENDing them over IMAP::

    with Dovecot(users=["u1"]) as dc:          # or: port, paths = dc.start()
        dc.load("u1", [raw_bytes, ...])
        ... imap://u1@127.0.0.1:{dc.port}/INBOX, password "secret" ...

Every user gets a fresh, empty mailbox; users can also be added while it runs
(``add_user``; Dovecot re-reads the passwd-file, at most once a second).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "secret"


class DovecotUnavailable(RuntimeError):
    """Dovecot cannot run here (not installed, not root, did not start); the reason says which."""


@dataclass
class Paths:
    root: Path
    conf: Path
    users: Path
    mail: Path
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None


CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


class Dovecot:
    """One Dovecot instance; ``start()`` → ``(port, paths)``, ``stop()`` removes everything."""

    def __init__(
        self, users: Iterable[str] = (), password: str = PASSWORD, extra_conf: str = ""
    ) -> None:
        self.users = list(users)
        self.extra_conf = extra_conf  # appended to dovecot.conf (e.g. metric blocks)
        self.password = password
        self.port = 0
        self.paths: Paths | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._uid = self._gid = -1
        self._seq = 0

    # -- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> tuple[int, Paths]:
        binary = find_binary()
        if not binary:
            raise DovecotUnavailable("dovecot is not installed (Debian package dovecot-imapd)")
        if os.geteuid() != 0:
            raise DovecotUnavailable("the throwaway Dovecot needs root")
        self._uid = pwd.getpwnam("nobody").pw_uid
        self._gid = grp.getgrnam("nogroup").gr_gid
        d = Path(tempfile.mkdtemp(prefix="ops-dovecot-"))
        d.chmod(0o755)  # Dovecot's auth process (user dovecot) reads the users file
        for sub in ("run", "state", "log", "mail"):
            (d / sub).mkdir()
        self.paths = Paths(
            d, d / "dovecot.conf", d / "users", d / "mail", d / "log" / "dovecot.log"
        )
        self._write_users()
        os.chown(d / "mail", self._uid, self._gid)
        self.port = free_port()
        self.paths.conf.write_text(CONF.format(d=d, port=self.port) + self.extra_conf)
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.paths.conf), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    stderr = self.proc.stderr
                    err = stderr.read().decode(errors="replace") if stderr else ""
                    self.stop()
                    raise DovecotUnavailable(f"dovecot exited: {err[-300:]}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise DovecotUnavailable("dovecot did not start listening") from None
                time.sleep(0.05)
        return self.port, self.paths

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        if self.paths is not None:
            shutil.rmtree(self.paths.root, ignore_errors=True)
            self.paths = None

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users and mail ------------------------------------------------------------------------
    def _write_users(self) -> None:
        assert self.paths is not None
        text = "".join(f"{u}:{{PLAIN}}{self.password}\n" for u in self.users)
        tmp = self.paths.users.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o644)
        os.replace(tmp, self.paths.users)  # a new inode: Dovecot sees the change at once

    def add_user(self, user: str) -> None:
        """A new login (fresh, empty mailbox); works while Dovecot runs.

        Dovecot looks at the passwd-file at most once a second, so this waits
        for the next second; give every user to the constructor to avoid that.
        """
        if user not in self.users:
            self.users.append(user)
            if self.paths is not None:
                self._write_users()
                time.sleep(1.05 - time.time() % 1)

    def maildir(self, user: str) -> Path:
        """``<mail>/<user>/Maildir`` with cur/new/tmp, all owned by nobody:nogroup."""
        assert self.paths is not None, "start() first"
        home = self.paths.mail / user
        md = home / "Maildir"
        for p in (home, md, md / "cur", md / "new", md / "tmp"):
            if not p.exists():
                p.mkdir()
                os.chown(p, self._uid, self._gid)
        return md

    def load(self, user: str, messages: Iterable[bytes | tuple[bytes, str]]) -> int:
        """Write messages straight into the user's INBOX (``cur/``), owned by nobody.

        An item is raw bytes, or ``(raw, flags)`` with Maildir flag letters
        (``"S"`` seen, ``"F"`` flagged, sorted). Returns how many were written.
        Do it before the mailbox is in use, or Dovecot finds them on its next sync.
        """
        cur = self.maildir(user) / "cur"
        host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        pid = os.getpid()
        now = int(time.time())
        n = 0
        for item in messages:
            raw, flags = (item, "") if isinstance(item, bytes) else item
            self._seq += 1
            name = f"{now}.M{self._seq}P{pid}.{host},S={len(raw)}:2,{''.join(sorted(flags))}"
            path = cur / name
            with open(path, "xb") as fh:
                fh.write(raw)
                os.fchown(fh.fileno(), self._uid, self._gid)
            n += 1
        return n

    def log_tail(self, chars: int = 2000) -> str:
        if self.paths is None or not self.paths.log.exists():
            return ""
        return self.paths.log.read_text(errors="replace")[-chars:]


def start(users: Iterable[str] = (), password: str = PASSWORD, extra_conf: str = "") -> Dovecot:
    """Start one; raises :class:`DovecotUnavailable` with the reason when it cannot."""
    dc = Dovecot(users, password, extra_conf)
    dc.start()
    return dc

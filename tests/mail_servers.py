"""Real mail servers for tests: Dovecot (IMAP) in a temporary directory, aiosmtpd with AUTH.

Dovecot refuses to run its login and mail processes as root, so they run as the users the Debian
package creates (dovenull, dovecot) and the mail directories belong to `dovecot`.

With an introspection URL, Dovecot also accepts OAuth 2.0 access tokens (AUTHENTICATE XOAUTH2 and
OAUTHBEARER) through its oauth2 passdb, which asks that URL (RFC 7662) whose token it is; the
submission server does the same for AUTH XOAUTH2 through `check_token`.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from imapclient import IMAPClient

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
auth_failure_delay = 0
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 0
first_valid_gid = 0
"""

# Dovecot 2.3's oauth2 passdb, only for the token mechanisms (passwords still go to passwd-file).
OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/dovecot-oauth2.conf.ext
}}
"""
OAUTH_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dovecot_available() -> bool:
    return shutil.which("dovecot") is not None


@dataclass
class Dovecot:
    """One Dovecot serving IMAP on 127.0.0.1:port; users are added with add_user()."""

    dir: Path
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    # RFC 7662 token introspection endpoint: Dovecot then accepts XOAUTH2/OAUTHBEARER logins.
    oauth_introspection_url: str = ""

    @property
    def conf(self) -> Path:
        return self.dir / "dovecot.conf"

    def start(self) -> None:
        self.port = free_port()
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "passwd").write_text("")
        oauth = bool(self.oauth_introspection_url)
        if oauth:
            (self.dir / "dovecot-oauth2.conf.ext").write_text(OAUTH_CONF.format(url=self.oauth_introspection_url))
        self.conf.write_text(
            DOVECOT_CONF.format(
                dir=self.dir,
                port=self.port,
                oauth_mechanisms=" xoauth2 oauthbearer" if oauth else "",
                oauth_passdb=OAUTH_PASSDB.format(dir=self.dir) if oauth else "",
            )
        )
        dovecot = pwd.getpwnam("dovecot")
        os.chown(self.dir / "mail", dovecot.pw_uid, dovecot.pw_gid)
        os.chmod(self.dir, 0o755)
        # -F: stay in the foreground, so the test owns the process and can stop it.
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.conf)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def add_user(self, username: str, password: str) -> None:
        """Add a user or change their password (Dovecot rereads the file when its mtime changes)."""
        changed = username in self.users
        self.users[username] = password
        path = self.dir / "passwd"
        before = path.stat().st_mtime if path.exists() else 0
        path.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        # A second rewrite within the same second would go unnoticed: move the mtime on.
        stamp = max(time.time(), before + 1)
        os.utime(path, (stamp, stamp))
        if changed:
            # Dovecot looks at the file at most once a second.
            time.sleep(1.1)

    def client(self, username: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(username, self.users[username])
        return client

    def append(self, username: str, raw: bytes | str, folder: str = "INBOX") -> None:
        """Put a message in a mailbox as a delivery would leave it."""
        data = raw.encode() if isinstance(raw, str) else raw
        with self.client(username) as client:
            client.append(folder, data)

    def messages(self, username: str, folder: str = "INBOX") -> list[Message]:
        with self.client(username) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [message_from_bytes(fetched[uid][b"BODY[]"], policy=policy.default) for uid in sorted(fetched)]

    def uidvalidity(self, username: str, folder: str = "INBOX") -> int:
        with self.client(username) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def recreate_folder(self, username: str, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, as a server restore or migration does."""
        new = self.uidvalidity(username, folder) + 1
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "mailbox", "update", "-u", username, "--uid-validity", str(new), folder],
            check=True,
        )


def start_dovecot(*, oauth_introspection_url: str = "") -> Dovecot:
    server = Dovecot(dir=Path(tempfile.mkdtemp(prefix="dovecot-")), oauth_introspection_url=oauth_introspection_url)
    server.start()
    return server


@dataclass
class Submitted:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    login: str


@dataclass
class SubmissionHandler:
    """aiosmtpd handler: records every message with the login that submitted it."""

    received: list[Submitted] = field(default_factory=list)
    refuse_with: str = ""
    # (user, access token) -> accepted? AUTH XOAUTH2 is refused when this is not set.
    check_token: Callable[[str, str], bool] | None = None
    xoauth2_logins: list[tuple[str, bool]] = field(default_factory=list)

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd's naming for a mechanism
        """SASL XOAUTH2 as Google documents it: on a refused token, a 334 challenge carrying the
        error, the client's empty answer, then 535."""
        if len(args) == 2:
            blob = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False)
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        accepted = bool(self.check_token and token and self.check_token(user, token))
        self.xoauth2_logins.append((user, accepted))
        if accepted:
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"}))
        return AuthResult(success=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data if isinstance(session.auth_data, str) else ""
        self.received.append(
            Submitted(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.content, policy=policy.default),
                login,
            )
        )
        return "250 Message accepted for delivery"


class SmtpSubmission:
    """A real SMTP submission server on 127.0.0.1 that requires AUTH (PLAIN/LOGIN) with the given
    accounts (plain text allowed: it is loopback)."""

    def __init__(self, accounts: dict[str, str], *, check_token: Callable[[str, str], bool] | None = None) -> None:
        self.accounts = accounts
        self.handler = SubmissionHandler(check_token=check_token)
        self.port = free_port()

        def authenticate(server, session, envelope, mechanism, auth_data):
            if isinstance(auth_data, LoginPassword):
                login, password = auth_data.login.decode(), auth_data.password.decode()
                if self.accounts.get(login) == password:
                    return AuthResult(success=True, auth_data=login)
            return AuthResult(success=False, handled=False)

        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=False,
        )

    @property
    def received(self) -> list[Submitted]:
        return self.handler.received

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

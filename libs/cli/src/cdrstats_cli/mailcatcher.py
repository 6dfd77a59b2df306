"""The SMTP catcher of a one-machine run: every mail notify sends lands as an .eml file, nothing leaves.

`cdrstats run` starts it when the operator has not set ``CDRSTATS_SMTP_HOST`` (then notify
talks to the operator's server instead). It listens on 127.0.0.1 only and accepts any
sender and recipient; each message is written, as received, to ``<data>/mail/`` under a
name that sorts by arrival, so the newest mail is the last file.
"""

from __future__ import annotations

import itertools
import logging
import os
import pathlib
import socket
import time
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


class MaildirHandler:
    """aiosmtpd handler writing each accepted message to one .eml file (written whole, then renamed)."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for a complete message."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        recipients = ", ".join(envelope.rcpt_tos)
        header = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {recipients}\r\n".encode()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{next(self.counter):06d}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(header + content)
        partial.rename(self.folder / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class MailCatcher:
    """A local SMTP server in a thread of the supervisor; ``port`` 0 picks a free one."""

    def __init__(self, folder: pathlib.Path, port: int = 0) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.controller = Controller(MaildirHandler(folder), hostname=HOST, port=self.port)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[pathlib.Path]:
        """The caught messages, oldest first."""
        return sorted(self.folder.glob("*.eml"))

"""A real SMTP server (aiosmtpd) that keeps every message it accepts, for tests that read mails."""
from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Sink:
    """Accepts every mail on 127.0.0.1:`port` and keeps it."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 2.0.0 OK"

    def start(self) -> "Sink":
        """Listen in a thread of its own."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        """The mails sent to `address`."""
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def text_of(msg: EmailMessage) -> str:
    """The plain-text alternative of a mail."""
    return msg.get_body(("plain",)).get_content()

"""The SMTP server that receives replies to notifications (adapter over aiosmtpd).

It only speaks SMTP: it refuses recipients without a reply token and hands each accepted
message to `accept`, which decides (token, loops, intake) and returns the status line.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiosmtpd.controller import Controller

from notifier.inbound import token_of

log = logging.getLogger(__name__)

Accept = Callable[[str, bytes, list[str]], tuple[int, str]]


class ReplyHandler:
    """aiosmtpd handler: RCPT only to reply addresses, DATA answered by `accept`."""

    def __init__(self, accept: Accept) -> None:
        self._accept = accept

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        """Take the recipient only if it is a reply address (it carries a token)."""
        if token_of(address) is None:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        """Answer the message with whatever `accept` decides."""
        # aiosmtpd keeps the null reverse-path of bounces ("MAIL FROM:<>") as "<>".
        mail_from = "" if envelope.mail_from in (None, "<>") else envelope.mail_from
        # `accept` blocks (it posts to intake); in a worker thread the event loop keeps
        # serving the other connections meanwhile.
        code, text = await asyncio.get_running_loop().run_in_executor(
            None, self._accept, mail_from, envelope.content, list(envelope.rcpt_tos)
        )
        return f"{code} {text}"

    async def handle_exception(self, error: Exception) -> str:
        """A failure on our side is temporary: the sending server keeps the mail and retries.

        aiosmtpd's default answer is a 500, which would bounce the customer's reply for
        good (https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1).
        """
        log.error("inbound reply failed; answered 451 so the sender retries", exc_info=error)
        return "451 4.3.0 temporary failure, please try again later"


def start_server(handler: ReplyHandler, host: str, port: int) -> Controller:
    """A running SMTP server on host:port, in its own thread; the caller stops it."""
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller

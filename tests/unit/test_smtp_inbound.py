"""The inbound SMTP server takes mail only for reply addresses and answers with `accept`'s verdict."""
import smtplib
import socket
from email import policy
from email.message import EmailMessage

import pytest

from notifier.smtp_inbound import ReplyHandler, start_server

REPLY_TO = "reply+abc.def@mesa.example"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server():
    """A real SMTP server on localhost whose `accept` records calls and answers as told."""
    calls = []
    answer = {"status": (250, "2.0.0 OK")}

    def accept(mail_from, content, rcpt_tos):
        calls.append((mail_from, content, rcpt_tos))
        if isinstance(answer["status"], Exception):
            raise answer["status"]
        return answer["status"]

    port = free_port()
    controller = start_server(ReplyHandler(accept), "127.0.0.1", port)
    yield port, calls, answer
    controller.stop()


def raw_reply() -> bytes:
    """A reply as a client submits it, with a line that needs dot-stuffing on the wire."""
    msg = EmailMessage()
    msg["From"] = "juan@cliente.example"
    msg["To"] = REPLY_TO
    msg["Subject"] = "Re: [#1042] BANCOS, conciliación"
    msg.set_content("Ya funciona.\n.\n..punto inicial\n")
    return msg.as_bytes(policy=policy.SMTP)


def test_a_recipient_without_a_reply_token_is_refused_with_550(server):
    port, calls, _ = server
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("juan@cliente.example")
        code, message = client.rcpt("soporte@mesa.example")
        assert (code, message) == (550, b"5.1.1 mailbox unavailable")
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("juan@cliente.example", ["soporte@mesa.example"], raw_reply())
    assert calls == []


def test_the_message_bytes_reach_accept_unchanged(server):
    port, calls, _ = server
    raw = raw_reply()
    with smtplib.SMTP("127.0.0.1", port) as client:
        refused = client.sendmail("juan@cliente.example", [REPLY_TO, "Reply+ghi@mesa.example"], raw)
    assert refused == {}
    assert calls == [("juan@cliente.example", raw, [REPLY_TO, "Reply+ghi@mesa.example"])]


def test_a_null_sender_reaches_accept_as_an_empty_string(server):
    port, calls, _ = server
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("<>", [REPLY_TO], raw_reply())
    assert calls[0][0] == ""


def test_a_refusal_from_accept_reaches_the_client(server):
    port, calls, answer = server
    answer["status"] = (550, "5.7.1 reply token expired")
    with smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("juan@cliente.example", [REPLY_TO], raw_reply())
    assert isinstance(refused.value, smtplib.SMTPResponseException)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (550, b"5.7.1 reply token expired")
    assert len(calls) == 1


def test_a_failure_inside_accept_is_a_temporary_451_so_the_sender_retries(server):
    port, _, answer = server
    answer["status"] = ConnectionError("intake is down")
    with smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            client.sendmail("juan@cliente.example", [REPLY_TO], raw_reply())
    assert failed.value.smtp_code == 451

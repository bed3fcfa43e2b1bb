"""E-mail replies become the text a person wrote; machines' mail is recognised and ignored."""
from email import policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser

import pytest

from notifier.inbound import (
    sender_mismatch,
    REPLY_MARKER_EN,
    REPLY_MARKER_ES,
    extract,
    html_to_text,
    is_automatic,
    reply_address,
    strip_quoted,
    token_of,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
REPLY_TO = "reply+abc.def@mesa.example"


def received(msg: Message) -> EmailMessage:
    """The message as an SMTP server gets it: CRLF bytes, parsed with the modern policy."""
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes(policy=policy.SMTP))


def human_reply(body: str = "Gracias, ya funciona.") -> EmailMessage:
    """A plain reply from a person, as a base for the header tests."""
    msg = EmailMessage()
    msg["From"] = "Juan Pérez <juan@cliente.example>"
    msg["To"] = f"Mesa <{REPLY_TO}>"
    msg["Subject"] = "Re: [#1042] BANCOS, conciliación no cuadra"
    msg["Message-ID"] = "<CAF123@mail.gmail.com>"
    msg["In-Reply-To"] = "<notif-1042-3@mesa.example>"
    msg.set_content(body)
    return msg


# --- reply addresses ----------------------------------------------------------------------

def test_the_token_is_read_from_an_address_with_a_display_name():
    assert token_of("Mesa <reply+abc.def@mesa.example>") == "abc.def"


def test_the_token_prefix_is_case_insensitive_and_brackets_are_optional():
    assert token_of("REPLY+abc.def@mesa.example") == "abc.def"
    assert token_of("<Reply+abc_d-e@mesa.example>") == "abc_d-e"


def test_an_address_without_a_token_has_none():
    assert token_of("soporte@mesa.example") is None
    assert token_of("reply@mesa.example") is None
    assert token_of("") is None


def test_a_reply_address_carries_its_token_back():
    address = reply_address("abc.def", "mesa.example")
    assert address == REPLY_TO
    assert token_of(address) == "abc.def"


# --- what a person wrote --------------------------------------------------------------------

def test_a_gmail_reply_in_spanish_keeps_only_the_new_text():
    msg = human_reply(
        "Ya probé y sigue igual, adjunto la ruta: Bancos > Conciliación.\n"
        "\n"
        "-- \n"
        "Juan Pérez\n"
        "Contabilidad\n"
        "\n"
        "El lun, 30 nov 2026 a las 10:00, Mesa <\n"
        f"{REPLY_TO}> escribió:\n"
        "\n"
        f"> {REPLY_MARKER_ES}\n"
        ">\n"
        "> Ana respondió a su ticket #1042.\n"
    )
    msg.add_alternative(
        "<div dir=\"ltr\">Ya probé y sigue igual</div><br><div class=\"gmail_quote\">"
        "<blockquote>Ana respondió</blockquote></div>",
        subtype="html",
    )

    reply = extract(received(msg))

    assert reply.text == "Ya probé y sigue igual, adjunto la ruta: Bancos > Conciliación."
    assert reply.subject == "Re: [#1042] BANCOS, conciliación no cuadra"
    assert reply.sender == "juan@cliente.example"
    assert reply.message_id == "<CAF123@mail.gmail.com>"
    assert reply.attachments == []


def test_an_outlook_reply_in_english_is_cut_at_the_underscore_separator():
    msg = human_reply(
        "Thanks, that fixed it.\r\n"
        "\r\n"
        "Regards,\r\n"
        "John\r\n"
        "\r\n"
        "________________________________\r\n"
        "From: Mesa <reply+abc.def@mesa.example>\r\n"
        "Sent: Monday, November 30, 2026 10:00 AM\r\n"
        "To: John Smith <john@client.example>\r\n"
        "Subject: [#1042] BANCOS, reconciliation\r\n"
        "\r\n"
        f"{REPLY_MARKER_EN}\r\n"
        "Ana answered your ticket.\r\n"
    )

    assert extract(received(msg)).text == "Thanks, that fixed it.\n\nRegards,\nJohn"


def test_an_html_only_reply_is_turned_into_text_without_its_quote():
    msg = human_reply()
    msg.set_content(
        "<html><head><style>p { color: red }</style></head><body>"
        "<div dir=\"ltr\">Hola,<br>el reporte &amp; la ruta: Ventas &gt; Reportes&nbsp;mensuales"
        "<p>Segundo   párrafo\ncon salto de fuente.</p></div><div><br></div>"
        "<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">El lun, 30 nov 2026 "
        "a las 10:00, Mesa &lt;<a href=\"mailto:reply+abc.def@mesa.example\">"
        "reply+abc.def@mesa.example</a>&gt; escribió:<br></div>"
        "<blockquote class=\"gmail_quote\">Texto anterior</blockquote></div></body></html>",
        subtype="html",
    )

    reply = extract(received(msg))

    assert reply.text == (
        "Hola,\nel reporte & la ruta: Ventas > Reportes mensuales\n\nSegundo párrafo con salto de fuente."
    )


def test_html_blockquotes_become_quoted_lines():
    assert html_to_text("<p>Nuevo</p><blockquote>viejo<br>más viejo</blockquote>") == (
        "Nuevo\n\n> viejo\n> más viejo"
    )


def test_a_latin_1_quoted_printable_body_is_decoded():
    msg = human_reply()
    msg.set_content("Señor, la nómina de diciembre no cuadra.\n", charset="iso-8859-1", cte="quoted-printable")
    raw = msg.as_bytes(policy=policy.SMTP)
    assert b"Se=F1or" in raw and b"n=F3mina" in raw

    assert extract(BytesParser(policy=policy.default).parsebytes(raw)).text == (
        "Señor, la nómina de diciembre no cuadra."
    )


def test_a_body_mislabelled_as_utf_8_falls_back_to_windows_1252():
    msg = human_reply()
    msg.set_content("Año fiscal “cerrado”".encode("cp1252"), "text", "plain", cte="8bit")
    msg.set_param("charset", "utf-8")

    assert extract(received(msg)).text == "Año fiscal “cerrado”"


def test_a_base64_utf_8_body_is_decoded():
    msg = human_reply()
    msg.set_content("Comprobante Nº 55 – revisado ✓", cte="base64")

    assert extract(received(msg)).text == "Comprobante Nº 55 – revisado ✓"


def test_attached_and_inline_images_are_attachments_and_the_bodies_are_not():
    msg = human_reply("Adjunto la captura.\n")
    msg.add_alternative("<p>Adjunto la captura.</p><img src=\"cid:logo@cliente\">", subtype="html")
    msg.get_payload()[1].add_related(
        PNG, "image", "png", cid="<logo@cliente>", disposition="inline", filename="logo.png"
    )
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="captura pantalla.png")

    reply = extract(received(msg))

    assert reply.text == "Adjunto la captura."
    assert sorted((a.filename, a.content_type_declared, a.content) for a in reply.attachments) == [
        ("captura pantalla.png", "image/png", PNG),
        ("logo.png", "image/png", PNG),
    ]


def test_a_text_file_attached_is_not_taken_for_the_body():
    msg = human_reply("Ver el archivo.\n")
    msg.add_attachment("línea 1\nlínea 2\n", filename="log.txt")

    reply = extract(received(msg))

    assert reply.text == "Ver el archivo."
    # Text travels in canonical form, CRLF line ends (RFC 2046 §4.1.1).
    assert [(a.filename, a.content) for a in reply.attachments] == [("log.txt", "línea 1\r\nlínea 2\r\n".encode())]


# --- quoted history ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "quote",
    [
        "> lo que dijimos antes",
        "El lun, 30 nov 2026 a las 10:00, Mesa <reply+abc@mesa.example> escribió:\n> antes",
        "El lun., 30 nov. 2026 a las 10:00, Mesa (<\nreply+abc@mesa.example>) escribió:\n\n> antes",
        "On Mon, Nov 30, 2026 at 10:00 AM Mesa <reply+abc@mesa.example> wrote:\n> before",
        "On Mon, Nov 30, 2026 at 10:00 AM Mesa <\nreply+abc@mesa.example> wrote:\n> before",
        "-----Original Message-----\nFrom: Mesa\nSent: Monday\n\nbefore",
        "-----Mensaje original-----\nDe: Mesa\nEnviado: lunes\n\nantes",
        "________________________________\nDe: Mesa <reply+abc@mesa.example>\nEnviado: lunes\nantes",
        "De: Mesa <reply+abc@mesa.example>\nEnviado: lunes, 30 de noviembre de 2026 10:00\nPara: Juan\nantes",
        "De: Mesa <reply+abc@mesa.example> Enviado: lunes, 30 de noviembre de 2026 10:00",
        f"{REPLY_MARKER_ES}\nAna respondió a su ticket.",
        f"{REPLY_MARKER_EN}\nAna answered your ticket.",
    ],
)
def test_the_quoted_history_is_cut_off(quote):
    assert strip_quoted(f"  Listo, gracias.\n\nSaludos\n\n{quote}\n") == "Listo, gracias.\n\nSaludos"


def test_a_trailing_signature_is_dropped():
    assert strip_quoted("Funciona.\n--\u0020\nJuan Pérez\nTel. 0212-5550000") == "Funciona."


def test_lines_that_merely_mention_wrote_or_from_are_kept():
    text = "On second thought the report I wrote:\nFrom: the menu Bancos\nsigue fallando"
    assert strip_quoted(text) == text


def test_underscores_not_followed_by_headers_are_kept():
    text = "Firma:\n__________________\nJuan"
    assert strip_quoted(text) == text


# --- machines' mail ------------------------------------------------------------------------------

def test_a_normal_human_reply_is_not_flagged():
    assert is_automatic(received(human_reply()), "juan@cliente.example") is None


def test_auto_submitted_no_is_a_human_reply():
    msg = human_reply()
    msg["Auto-Submitted"] = "no"
    assert is_automatic(received(msg), "juan@cliente.example") is None


def test_an_auto_reply_is_flagged():
    msg = human_reply("Estoy de vacaciones hasta el lunes.")
    msg["Auto-Submitted"] = "auto-replied"

    assert is_automatic(received(msg), "juan@cliente.example") == "Auto-Submitted: auto-replied"


def test_an_outlook_out_of_office_is_flagged_by_its_suppress_header():
    msg = human_reply("I am out of the office until December 7.")
    msg.replace_header("Subject", "Automatic reply: [#1042] BANCOS, reconciliation")
    msg["X-Auto-Response-Suppress"] = "All"

    assert is_automatic(received(msg), "john@client.example") == "X-Auto-Response-Suppress: All"


@pytest.mark.parametrize(
    "header, value",
    [
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "auto_reply"),
        ("List-Unsubscribe", "<mailto:leave@lists.example>"),
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "Out of office"),
        ("X-Auto-Response-Suppress", "DR, OOF, AutoReply"),
    ],
)
def test_other_automatic_markers_are_flagged(header, value):
    msg = human_reply()
    msg[header] = value
    assert is_automatic(received(msg), "juan@cliente.example") is not None


def test_a_bounce_from_mailer_daemon_is_flagged():
    bounce = MIMEMultipart("report", **{"report-type": "delivery-status"})
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.cliente.example>"
    bounce["To"] = REPLY_TO
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.attach(MIMEText("I'm sorry to have to inform you that your message could not be delivered."))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.cliente.example"
    per_recipient["Final-Recipient"] = "rfc822; juan@cliente.example"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    bounce.attach(status)
    msg = received(bounce)

    assert is_automatic(msg, "") == "null sender (bounce)"
    assert is_automatic(msg, "<>") == "null sender (bounce)"
    # Even if a relay rewrote the envelope sender, the report itself gives it away.
    assert is_automatic(msg, "bounces@relay.example") == "delivery status report"


def test_mail_from_postmaster_is_flagged():
    msg = human_reply()
    msg.replace_header("From", "postmaster@cliente.example")
    assert is_automatic(received(msg), "relay@cliente.example") == "system sender postmaster@cliente.example"


def test_a_mailing_list_message_is_flagged():
    msg = human_reply("Boletín de noviembre")
    msg["List-Id"] = "Usuarios del sistema <usuarios.lists.cliente.example>"
    msg["Precedence"] = "list"

    assert is_automatic(received(msg), "usuarios-bounces@lists.cliente.example") == "Precedence: list"


# --- who may answer through a reply address (issue 7 item 5) ------------------------------

@pytest.mark.parametrize(("mail_from", "from_header"), [
    ("maria@clubcaracas.com.ve", "María Pérez <maria@clubcaracas.com.ve>"),
    ("Maria@ClubCaracas.com.ve", "MARIA@CLUBCARACAS.COM.VE"),
    ("<maria@clubcaracas.com.ve>", " maria@clubcaracas.com.ve "),
])
def test_the_person_the_token_was_made_for_may_answer_in_any_letter_case(mail_from, from_header):
    assert sender_mismatch(mail_from, from_header, "maria@clubcaracas.com.ve") is None


@pytest.mark.parametrize(("mail_from", "from_header"), [
    ("intruso@otro.example", "intruso@otro.example"),  # someone else who got hold of the address
    ("intruso@otro.example", "María Pérez <maria@clubcaracas.com.ve>"),  # a forged From header
    ("maria@clubcaracas.com.ve", "intruso@otro.example"),
    ("maria@clubcaracas.com.ve", "maria@clubcaracas.com.ve, intruso@otro.example"),  # two authors
    ("maria@clubcaracas.com.ve", ""),
    ("maria@clubcaracas.com.ve", "maria@clubcaracas.com.ve.otro.example"),
    ("maria@clubcaracas.com.ve", '"maria@clubcaracas.com.ve" <intruso@otro.example>'),  # the name is not the address
])
def test_another_sender_is_refused_whichever_of_envelope_or_from_header_differs(mail_from, from_header):
    assert sender_mismatch(mail_from, from_header, "maria@clubcaracas.com.ve")

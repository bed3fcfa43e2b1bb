"""Uploads are judged by their bytes, never their names, and kept within size limits."""
import io
import zipfile

import pytest

from helpdesk_shared.errors import RuleViolation
from intake.attachments import (
    DOCX,
    MAX_FILE_BYTES,
    MAX_FILES_PER_MESSAGE,
    MAX_TICKET_BYTES,
    PPTX,
    XLSX,
    check_attachment_count,
    check_ticket_total,
    REFUSED_EXTENSIONS,
    check_upload,
    safe_filename,
    sniff_content_type,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 24
CSV = "acción;socio;fecha;monto\n0456;María Pérez;2025-03-01;150,00\n0457;José Gómez;2025-03-02;75,50\n"


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding `entries`, as an office suite would write it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refused(call, *args) -> RuleViolation:
    """Run `call` expecting a RuleViolation with texts in both languages."""
    with pytest.raises(RuleViolation) as caught:
        call(*args)
    error = caught.value
    assert error.message.es and error.message.en and error.message.es != error.message.en
    return error


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


@pytest.mark.parametrize(
    ("content", "expected"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp"),
     (PDF, "application/pdf"), (OLE2, "application/vnd.ms-office"),
     (zip_of({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"}), DOCX),
     (zip_of({"[Content_Types].xml": CONTENT_TYPES, "xl/workbook.xml": b"<workbook/>"}), XLSX),
     (zip_of({"[Content_Types].xml": CONTENT_TYPES, "ppt/presentation.xml": b"<p/>"}), PPTX),
     (zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
      "application/vnd.oasis.opendocument.spreadsheet"),
     (zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}),
      "application/vnd.oasis.opendocument.text")],
)
def test_known_formats_are_recognised_from_their_bytes(content, expected):
    """Images, PDF and office documents are told apart by magic bytes and zip entries."""
    assert sniff_content_type(content) == expected


def test_utf8_and_cp1252_text_is_plain_text():
    """A log in UTF-8, or saved by Windows in cp1252, is text/plain."""
    log = "Error al generar el reporte de nómina\nRuta: Nómina > Procesos > Cierre\n"
    assert sniff_content_type(log.encode("utf-8")) == "text/plain"
    assert sniff_content_type(log.encode("cp1252")) == "text/plain"
    assert sniff_content_type(log.encode("utf-8-sig")) == "text/plain"


def test_semicolon_or_comma_separated_lines_are_csv():
    """Lines sharing the same count of ';' (or ',') are text/csv."""
    assert sniff_content_type(CSV.encode("utf-8")) == "text/csv"
    assert sniff_content_type(CSV.replace(";", ",").encode("cp1252")) == "text/csv"
    assert sniff_content_type(CSV.encode("utf-16")) == "text/csv"


@pytest.mark.parametrize("content", [ELF, MZ, MACHO, b"#!/bin/sh\nrm -rf /\n"])
def test_executables_are_refused(content):
    """PE, ELF, Mach-O and shebang scripts are never stored."""
    error = refused(sniff_content_type, content)
    assert (error.code, error.field, error.status) == ("ATTACHMENT_TYPE_REFUSED", "file", 415)
    assert "ejecutables" in error.message.es and "executables" in error.message.en


@pytest.mark.parametrize(
    "content",
    [b"<!DOCTYPE html><html><body>hola</body></html>", b"\xef\xbb\xbf\n  <HTML><script>alert(1)</script>",
     b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', b'<?xml version="1.0"?><svg/>',
     b"<script>fetch('/api')</script>", b"Reporte de cierre\n" * 10 + b"<script src=//evil></script>"],
)
def test_markup_is_refused(content):
    """HTML, SVG, XML and script text could run in a browser."""
    assert refused(sniff_content_type, content).code == "ATTACHMENT_TYPE_REFUSED"


@pytest.mark.parametrize("content", [b"", b"   \n", b"\x00\x01\x02\x03binary\x00\xff" * 10,
                                     b"PK\x03\x04not really a zip"])
def test_unrecognised_or_empty_content_is_refused(content):
    """What we cannot name, we do not store."""
    assert refused(sniff_content_type, content).code == "ATTACHMENT_TYPE_REFUSED"


def test_html_page_named_png_is_refused_by_its_content():
    """The name never decides the type."""
    error = refused(check_upload, b"<html><body><script>alert(1)</script></body></html>", "captura.png")
    assert error.code == "ATTACHMENT_TYPE_REFUSED"


def test_png_named_txt_is_stored_as_png():
    """The bytes decide: a PNG with a misleading name is still image/png."""
    assert check_upload(PNG, "notas.txt") == ("image/png", "notas.txt")


def test_upload_returns_type_and_a_safe_name():
    """Path parts and control characters are stripped from the name."""
    content_type, name = check_upload(PDF, "C:\\Users\\ana\\..\\Estado de cuenta\x00 marzo.pdf")
    assert (content_type, name) == ("application/pdf", "Estado de cuenta marzo.pdf")
    assert check_upload(CSV.encode(), "../../etc/socios.csv") == ("text/csv", "socios.csv")


def test_file_over_the_limit_is_refused_naming_the_limit():
    """10 MiB per file, answered 413 with the limit in both languages."""
    error = refused(check_upload, PNG + b"\x00" * MAX_FILE_BYTES, "captura.png")
    assert (error.code, error.status, error.extra) == ("ATTACHMENT_TOO_LARGE", 413, {"limit_mb": 10})
    assert "10 MB" in error.message.es and "10 MB" in error.message.en


def test_file_exactly_at_the_limit_is_accepted():
    """The limit itself is allowed."""
    assert check_upload(PDF + b"\x00" * (MAX_FILE_BYTES - len(PDF)), "balance.pdf")[0] == "application/pdf"


def test_safe_filename_drops_bidi_tricks_limits_length_and_is_never_empty():
    """A right-to-left override cannot disguise "exe"; long names keep their extension."""
    assert safe_filename("factura\u202egnp.exe") == "facturagnp.exe"
    long_name = safe_filename("a" * 300 + ".xlsx")
    assert len(long_name) == 150 and long_name.endswith(".xlsx")
    assert safe_filename("", "image/png") == "adjunto.png"
    assert safe_filename("../..", "application/pdf") == "adjunto.pdf"
    assert safe_filename(".bashrc") == "bashrc"


def test_ticket_total_within_the_limit_is_accepted():
    """25 MiB in total per ticket is fine."""
    check_ticket_total([MAX_FILE_BYTES, MAX_FILE_BYTES, MAX_TICKET_BYTES - 2 * MAX_FILE_BYTES])
    check_ticket_total([])


def test_ticket_total_over_the_limit_is_refused():
    """One more byte than 25 MiB is 413 with the limit."""
    error = refused(check_ticket_total, [MAX_FILE_BYTES, MAX_FILE_BYTES, MAX_TICKET_BYTES - 2 * MAX_FILE_BYTES + 1])
    assert (error.code, error.field, error.status) == ("ATTACHMENTS_TOTAL_TOO_LARGE", "attachments", 413)
    assert "25 MB" in error.message.es and "25 MB" in error.message.en


def test_too_many_attachments_in_one_message_is_refused():
    """Ten files per message; the eleventh is refused."""
    check_attachment_count(MAX_FILES_PER_MESSAGE)
    assert refused(check_attachment_count, MAX_FILES_PER_MESSAGE + 1).code == "TOO_MANY_ATTACHMENTS"


# ---------------------------------------------------------------- issue 7 item 10: refused formats

MACRO_CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                       b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                       b'vnd.ms-word.document.macroEnabled.main+xml"/></Types>')
OLE2_WITH_MACROS = OLE2 + "_VBA_PROJECT_CUR".encode("utf-16-le") + b"\x00" * 64


@pytest.mark.parametrize(
    "content",
    [zip_of({"reporte.txt": b"hola"}),
     zip_of({"[Content_Types].xml": CONTENT_TYPES, "nada.xml": b"<x/>"}),  # OOXML header, no document
     b"Rar!\x1a\x07\x01\x00" + b"\x00" * 32, b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 32,
     b"\x1f\x8b\x08\x00" + b"\x00" * 32, b"BZh91AY&SY" + b"\x00" * 32, b"\xfd7zXZ\x00" + b"\x00" * 32,
     b"reporte.txt".ljust(257, b"\x00") + b"ustar\x0000" + b"0" * 100],
)
def test_archives_are_refused_whatever_their_name(content):
    """Zip, rar, 7z, gzip, bzip2, xz and tar: what is inside cannot be judged, so it is not stored."""
    error = refused(check_upload, content, "captura.png")
    assert error.code == "ATTACHMENT_TYPE_REFUSED"


@pytest.mark.parametrize(
    "content",
    [zip_of({"[Content_Types].xml": MACRO_CONTENT_TYPES, "word/document.xml": b"<w:document/>"}),
     zip_of({"[Content_Types].xml": CONTENT_TYPES, "xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"x"}),
     zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>",
             "Basic/Standard/Module1.xml": b"<script:module/>"}),
     OLE2_WITH_MACROS],
)
def test_office_documents_with_macros_are_refused_by_their_content(content):
    """A macro-enabled document named .docx/.xls is still refused: the bytes carry the macros."""
    assert refused(check_upload, content, "informe.docx").code == "ATTACHMENT_TYPE_REFUSED"


@pytest.mark.parametrize("name", ["nomina.docm", "cierre.XLSM", "junta.pptm", "plantilla.dotm", "libro.xlsb",
                                  "respaldo.zip", "fotos.rar", "datos.7z", "copia.tar.gz", "log.gz"])
def test_macro_capable_and_archive_extensions_are_refused_even_with_harmless_bytes(name):
    """A plain-text file named .xlsm or .zip would be opened by the wrong program: refused."""
    assert name.rpartition(".")[2].lower() in REFUSED_EXTENSIONS
    assert refused(check_upload, b"Reporte de cierre de marzo\n", name).code == "ATTACHMENT_TYPE_REFUSED"


def test_an_ordinary_docx_and_an_ole_document_without_macros_are_still_accepted():
    """Refusing macros must not refuse the everyday Word and Excel files."""
    docx = zip_of({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"})
    assert check_upload(docx, "informe.docx") == (DOCX, "informe.docx")
    assert check_upload(OLE2, "balance.xls")[0] == "application/vnd.ms-office"


@pytest.mark.parametrize(
    "content",
    [b"   \n<html><body>hola</body></html>", b"\t<svg onload=alert(1)/>", b"\x0c<!doctype html><p>x",
     "\u00a0\u2003<!DOCTYPE html><body onload=alert(1)>".encode(), "\u200b<?xml version='1.0'?><x/>".encode(),
     b" " * 5000 + b"<html><script>alert(1)</script></html>", b"\n" * 5000 + b"<iframe src=//evil>",
     b"Reporte\n" * 2000 + b"<body onload=alert(1)>"],
)
def test_markup_hidden_after_leading_whitespace_or_far_down_is_refused(content):
    """Whitespace of any kind (form feed, no-break, zero-width, thousands of spaces) hides nothing."""
    assert refused(sniff_content_type, content).code == "ATTACHMENT_TYPE_REFUSED"

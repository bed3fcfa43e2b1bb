"""What an upload is, judged from its bytes (never its name), and the size limits."""
from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections import Counter

from .messages import violation

MiB = 1024 * 1024
MAX_FILE_BYTES = 10 * MiB
MAX_TICKET_BYTES = 25 * MiB
MAX_FILES_PER_MESSAGE = 10

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_OPENDOCUMENT = frozenset(
    f"application/vnd.oasis.opendocument.{kind}" for kind in ("text", "spreadsheet", "presentation", "graphics")
)

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Windows PE, ELF, Mach-O (32/64 bit, both byte orders, fat), scripts with a shebang.
_EXECUTABLE_MAGIC = (
    b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!",
)
# Markup a browser would render or run if it ever sniffed the file: at the start (after any
# whitespace, however much or exotic) or anywhere in the text for the tags that run code.
_MARKUP_STARTS = ("<!doctype", "<html", "<svg", "<?xml", "<script", "<body", "<iframe")
_MARKUP_ANYWHERE = ("<script", "<html", "<svg", "<iframe", "<body", "<object", "<embed", "<!doctype html")
# str.strip() whitespace plus the invisible characters it does not strip (zero-width, BOM).
_LEADING_BLANK = re.compile(r"^[\s\u200b\u200c\u200d\u2060\ufeff]+")

# Refused whatever the bytes (issue 7 item 10; README "Attachments"): macro-capable Office
# formats (the macros run on the agent's machine) and archives (what is inside cannot be
# judged). The same formats are also recognised from their content below.
REFUSED_EXTENSIONS = frozenset({
    "docm", "dotm", "xlsm", "xltm", "xlam", "xlsb", "pptm", "potm", "ppsm", "ppam", "sldm",
    "zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "tbz2", "xz", "txz", "cab", "arj", "lz", "lzh", "zst",
})
# Archive magic numbers (tar is recognised by "ustar" at offset 257).
_ARCHIVE_MAGIC = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"MSCF",
                  b"\x28\xb5\x2f\xfd")
# Names of the OLE2 storages that hold VBA macros (directory entries are UTF-16LE).
_OLE_MACRO_STORAGES = tuple(name.encode("utf-16-le") for name in ("_VBA_PROJECT", "Macros\x00", "VBA\x00"))
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

_EXTENSIONS = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
    "application/pdf": ".pdf", DOCX: ".docx", XLSX: ".xlsx", PPTX: ".pptx",
    "text/plain": ".txt", "text/csv": ".csv",
}


def _refused():
    """The one answer for anything we will not store."""
    return violation("ATTACHMENT_TYPE_REFUSED", "file")


def _zip_type(content: bytes) -> str:
    """Office Open XML or OpenDocument from the entries inside; any other zip (an archive) and
    any document carrying macros are refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            lowered = [name.lower() for name in names]
            if "[Content_Types].xml" in names:
                with archive.open("[Content_Types].xml") as entry:
                    declared = entry.read(1024 * 1024).lower()
                # docm/xlsm/pptm declare "macroEnabled" parts and carry vbaProject.bin.
                if b"macroenabled" in declared or any(name.endswith("vbaproject.bin") for name in lowered):
                    raise _refused()
                for prefix, mime in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
                    if any(name.startswith(prefix) for name in names):
                        return mime
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    declared = entry.read(100).decode("ascii", "replace").strip()
                # OpenDocument keeps Basic macros under Basic/ and scripts under Scripts/.
                if declared in _OPENDOCUMENT and not any(name.startswith(("basic/", "scripts/")) for name in lowered):
                    return declared
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, KeyError):
        raise _refused() from None
    raise _refused()  # a plain zip archive


def _decode_text(content: bytes) -> str | None:
    """The text of a UTF-8 (BOM optional), UTF-16 with BOM or cp1252 file; None when it is binary."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    elif b"\x00" in content:
        return None
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if len(_UNPRINTABLE.findall(text)) > len(text) // 100 else text
    return None


def _looks_like_csv(text: str) -> bool:
    """Most of the first lines share the same non-zero count of ',' or ';'."""
    lines = [line for line in text[:16384].splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (",", ";"):
        count, lines_with_it = Counter(line.count(delimiter) for line in lines).most_common(1)[0]
        if count >= 1 and lines_with_it * 2 > len(lines):
            return True
    return False


def sniff_content_type(content: bytes) -> str:
    """The MIME type the bytes really are; refuses executables, markup and the unrecognised."""
    if content.startswith(_EXECUTABLE_MAGIC + _ARCHIVE_MAGIC) or content[257:262] == b"ustar":
        raise _refused()
    for magic, mime in _IMAGE_MAGIC:
        if content.startswith(magic):
            return mime
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"PK\x03\x04"):
        return _zip_type(content)
    if content.startswith(_OLE2):
        # Best effort: .doc/.xls/.ppt with VBA name their macro storage in the directory.
        if any(storage in content for storage in _OLE_MACRO_STORAGES):
            raise _refused()
        return "application/vnd.ms-office"
    text = _decode_text(content)
    if not text or not text.strip():
        raise _refused()
    # Strip first, then look: a head cut before stripping let 5,000 spaces hide a page.
    lowered = text.lower()
    head = _LEADING_BLANK.sub("", lowered)
    if head.startswith(_MARKUP_STARTS) or any(tag in lowered for tag in _MARKUP_ANYWHERE):
        raise _refused()
    return "text/csv" if _looks_like_csv(text) else "text/plain"


def safe_filename(filename: str, content_type: str = "") -> str:
    """The last path part without control/format characters, at most 150 characters, never empty."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", filename or ""))[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = name.strip().lstrip(".").strip()
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 150 - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else name[:150]
    return name or "adjunto" + _EXTENSIONS.get(content_type, "")


def check_upload(content: bytes, filename: str) -> tuple[str, str]:
    """(content_type, safe_filename) of an upload within the size limit and of an accepted type."""
    if len(content) > MAX_FILE_BYTES:
        raise violation("ATTACHMENT_TOO_LARGE", "file", limit_mb=MAX_FILE_BYTES // MiB)
    # Judged on the cleaned name, so bidi or zero-width tricks cannot hide ".zip".
    if safe_filename(filename).rpartition(".")[2].lower() in REFUSED_EXTENSIONS:
        raise _refused()
    content_type = sniff_content_type(content)
    return content_type, safe_filename(filename, content_type)


def check_ticket_total(sizes: list[int]) -> None:
    """Refuse when a ticket's attachments together exceed MAX_TICKET_BYTES."""
    if sum(sizes) > MAX_TICKET_BYTES:
        raise violation("ATTACHMENTS_TOTAL_TOO_LARGE", "attachments", limit_mb=MAX_TICKET_BYTES // MiB)


def check_attachment_count(count: int) -> None:
    """Refuse a message with more than MAX_FILES_PER_MESSAGE attachments."""
    if count > MAX_FILES_PER_MESSAGE:
        raise violation("TOO_MANY_ATTACHMENTS", "attachments")

"""The portal's languages: Spanish (the source texts) and English (a gettext catalog).

The catalog is kept as a `.po` file and compiled to `.mo` when the app starts, into a
folder of its own, so a fresh checkout, CI and the container need no build step.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("es", "en")
DEFAULT = "es"
SOURCE = Path(__file__).with_name("translations")


def compile_catalogs(source: Path = SOURCE) -> str:
    """Compile every `<lang>/LC_MESSAGES/*.po` under `source` into a new folder; return its path."""
    target = Path(tempfile.mkdtemp(prefix="mesa-portal-i18n-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)  # one folder per process start
    for po in source.glob("*/LC_MESSAGES/*.po"):
        out = target / po.relative_to(source).with_suffix(".mo")
        out.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        with out.open("wb") as f:
            write_mo(f, catalog)
    return str(target)


def choose(switch: str | None, user_language: str | None) -> str:
    """The page's language: the reader's switch, else his user's language, else Spanish."""
    for candidate in (switch, user_language):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT

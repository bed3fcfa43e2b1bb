"""Supervisors' mail texts in the notifier's database (adapter): every version kept, the newest used."""
from __future__ import annotations

from datetime import datetime

import psycopg

from .template_texts import TemplateText


class VersionChanged(Exception):
    """Someone saved (or reset) the template's text since the editor read `current`."""

    def __init__(self, current: int):
        super().__init__(current)
        self.current = current


def current_texts(conn: psycopg.Connection) -> dict[tuple[str, str], TemplateText]:
    """The text each overridden (template, language) is rendered with now."""
    rows = conn.execute("""select distinct on (template, language) template, language, subject, body
                           from template_texts order by template, language, version desc""").fetchall()
    return {(r["template"], r["language"]): TemplateText(r["subject"], r["body"]) for r in rows if r["subject"] is not None}


def history(conn: psycopg.Connection, template: str, language: str) -> list[dict]:
    """Every version of a template's text, newest first (`subject`/`body` null: reset to the packaged text)."""
    return conn.execute("""select version, subject, body, edited_by, edited_at from template_texts
                           where template = %s and language = %s order by version desc""",
                        (template, language)).fetchall()


def save(conn: psycopg.Connection, template: str, language: str, text: TemplateText | None, expected: int,
         edited_by: str, now: datetime) -> int:
    """Store a new version (None: back to the packaged text) after `expected`; its number.

    Raises VersionChanged when the newest version is not `expected` (two editors who read the
    same version: the second is refused, in the caller's transaction, before writing)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"template-text/{template}/{language}",))
    row = conn.execute("select coalesce(max(version), 0) as v from template_texts where template = %s and language = %s",
                       (template, language)).fetchone()
    if row["v"] != expected:
        raise VersionChanged(row["v"])
    conn.execute("""insert into template_texts (template, language, version, subject, body, edited_by, edited_at)
                    values (%s, %s, %s, %s, %s, %s, %s)""",
                 (template, language, expected + 1, text.subject if text else None, text.body if text else None,
                  edited_by, now))
    return expected + 1

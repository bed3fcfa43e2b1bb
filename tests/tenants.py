"""An organisation and a customer of a test's own on a stack that several tests share.

Tests of one module (or the browser session) share a stack: a customer of the demo organisations
would see another test's tickets in her lists and in rule 6's "same case" offers. A test that
opens tickets gets its own organisation instead, registered in intake as the demo loader does
(so its events reach query and the SLA service through the same outbox and topics).
"""
from __future__ import annotations

import uuid

from helpdesk_shared import pg
from helpdesk_shared.envelope import SYSTEM
from intake import demo, handlers


def own_customer(stack, desks=("SOPORTE",), language: str = "es") -> str:
    """A new organisation on `desks` with one customer (password `mesa-demo`); her e-mail."""
    tag = uuid.uuid4().hex[:8]
    org_id, email = f"club-{tag}", f"socia-{tag}@club-{tag}.test"
    now = stack.clock()
    with pg.connect(stack.env_for("intake")["DATABASE_URL"]) as conn:
        handlers.register_organisation(conn, name=f"Club de prueba {tag}", desks=list(desks), now=now,
                                       tax_id=f"J-{int(tag, 16) % 10**8:08d}-{int(tag, 16) % 10}",
                                       organisation_id=org_id, actor=SYSTEM)
        handlers.register_user(conn, email=email, name=f"Socia {tag}", role="customer", password=demo.PASSWORD,
                               desks=list(desks), now=now, actor=SYSTEM, organisation_id=org_id,
                               language=language, phone="+58 212 555 0100")
    return email

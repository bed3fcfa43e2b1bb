"""Demo data (entry point `python -m intake.demo`): organisations, customer users and agents.

Idempotent: running it twice creates nothing new. Every password is `mesa-demo`.
"""
from __future__ import annotations

from helpdesk_shared.clock import utc_now
from helpdesk_shared import pg
from helpdesk_shared.envelope import SYSTEM

from . import handlers
from .app import migrate
from .config import Config

PASSWORD = "mesa-demo"

ORGANISATIONS = [
    ("club-caracas", "Club Social Caracas", "J-00012345-6", ["SOPORTE"]),
    ("country-valencia", "Valencia Country Club", "J-30876543-2", ["SOPORTE", "IMPLANTACIONES"]),
    ("distribuidora-andina", "Distribuidora Andina, C.A.", "J-40111222-3", ["IMPLANTACIONES"]),
]

USERS = [
    # email, name, role, organisation, desks
    ("maria@clubcaracas.com.ve", "María Pérez", "customer", "club-caracas", ["SOPORTE"]),
    ("jose@clubcaracas.com.ve", "José Rodríguez", "customer", "club-caracas", ["SOPORTE"]),
    ("ana@countryvalencia.com.ve", "Ana Gómez", "customer", "country-valencia", ["SOPORTE", "IMPLANTACIONES"]),
    ("luis@andina.com.ve", "Luis Hernández", "customer", "distribuidora-andina", ["IMPLANTACIONES"]),
    ("peter@countryvalencia.com.ve", "Peter Smith", "customer", "country-valencia", ["SOPORTE"]),  # reads English
    ("carlos@mesa.example", "Carlos Soporte", "agent", None, ["SOPORTE"]),
    ("elena@mesa.example", "Elena Implantaciones", "agent", None, ["IMPLANTACIONES"]),
    ("supervisor@mesa.example", "Rosa Supervisora", "supervisor", None, ["SOPORTE", "IMPLANTACIONES"]),
]

ENGLISH = {"peter@countryvalencia.com.ve": "en"}


def load(database_url: str) -> list[str]:
    """Create the demo organisations and users that are missing; return the e-mails created."""
    migrate(database_url)
    created = []
    with pg.connect(database_url) as conn:
        now = utc_now()
        for org_id, name, tax_id, desks in ORGANISATIONS:
            if conn.execute("select 1 from organisations where id = %s", (org_id,)).fetchone() is None:
                handlers.register_organisation(conn, name=name, desks=desks, tax_id=tax_id,
                                               organisation_id=org_id, now=now, actor=SYSTEM)
        for email, name, role, org_id, desks in USERS:
            if conn.execute("select 1 from users where email = %s", (email,)).fetchone() is None:
                handlers.register_user(conn, email=email, name=name, role=role, password=PASSWORD, desks=desks,
                                       organisation_id=org_id, now=now, actor=SYSTEM,
                                       language=ENGLISH.get(email, "es"),
                                       phone="+58 212 555 0100" if role == "customer" else None)
                created.append(email)
    return created


def main() -> None:
    """Load the demo data into DATABASE_URL and print the logins."""
    created = load(Config.from_env().database_url)
    print(f"demo users ({len(created)} new); password for all: {PASSWORD}")
    for email, name, role, org_id, _ in USERS:
        print(f"  {role:<10} {email:<30} {name}" + (f"  [{org_id}]" if org_id else ""))


if __name__ == "__main__":
    main()

"""p50/p95/p99 of article search, the new-ticket form's suggestions and ticket search in query, with
100,000 tickets and 2,000 articles loaded (issue 12: p95 <= 100 ms).

    python bench/search_bench.py [--tickets 100000] [--articles 2000] [--requests 200] [--keep | --database NAME]

1. creates a fresh query database (the service's own migrations, as `mesa migrate query`);
2. loads, through `query.store.apply_batch` (the consumer's own function), the accounts, --articles
   articles (drafted, most published, some archived) and --tickets tickets of both desks, each with
   two messages (one an internal note), their texts drawn from a Spanish help-desk vocabulary per
   module, so a word matches a realistic share of the tickets (not all of them, not none);
3. asks each search --requests times through the real Flask app (`app.test_client()`), each request
   with other words drawn from the same vocabulary (with accents dropped now and then, and words of
   the modules' synonym groups), as a customer, an agent and the supervisor, and prints a table.

The events are built as `Envelope`s directly (their data in the serialised form `new_event` would give).
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("shared", "services/query"):
    sys.path.insert(0, str(ROOT / sub))

from helpdesk_shared import auth_tokens, pg  # noqa: E402
from helpdesk_shared.auth_tokens import Claims  # noqa: E402
from helpdesk_shared.catalog import DESKS as CATALOG  # noqa: E402
from helpdesk_shared.catalog import vocabulary  # noqa: E402
from helpdesk_shared.envelope import SYSTEM, Actor, Envelope  # noqa: E402
from helpdesk_shared.kafka import Record  # noqa: E402
from helpdesk_shared.localstack import create_database, drop_database  # noqa: E402
from helpdesk_shared.topics import TOPIC_OF_EVENT  # noqa: E402
from machine import machine_info, print_fields, save_results  # noqa: E402

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)
TARGET_MS = 100
DESKS = {"SOPORTE": "SOP", "IMPLANTACIONES": "IMP"}
# The words a help desk of a Venezuelan ERP reads every day, per module, and the ones any case uses.
COMMON = ("error pantalla sistema reporte fecha mes quincena usuario clave acceso cliente socio monto saldo "
          "registro proceso cierre lote archivo consulta ajuste diferencia montos aparece muestra calcula "
          "genera imprime guarda carga duplicado duplicada falta incorrecto incorrecta lento bloqueado").split()
MODULE_WORDS = {
    "BANCOS": "banco conciliación transferencia depósito cheque extracto estado cuenta abono pago devuelto "
              "mercantil banesco provincial referencia movimiento",
    "FACTURACION": "factura facturación cuota cuotas mantenimiento recibo iva impuesto correlativo control "
                   "cargo consumo nota crédito débito",
    "SOCIOS": "socio acción traspaso familiar hijo correo ficha alta baja suspensión beneficiario",
    "CARNETIZACION": "carnet credencial foto fotografía impresora pase vencido renovación",
    "NOMINA": "nómina bono nocturno vacaciones utilidades prestaciones vigilante trabajador sueldo retención "
              "ivss faov",
    "CONTABILIDAD": "asiento cuenta contable balance mayor auxiliar comprobante ejercicio centro costo",
    "CXP": "proveedor pagar factura retención orden pago vencimiento anticipo",
    "CXC": "cobrar cobranza morosidad abono estado cuenta deudor intereses",
    "INVENTARIO": "artículo existencia almacén entrada salida costo promedio kardex",
    "SENIAT": "declaración iva islr retención libro ventas compras txt portal",
    "REPORTES": "reporte listado exportar excel pdf filtro columna totales",
    "SISTEMA": "usuario clave permiso perfil servidor base datos respaldo actualización versión",
    "MIGRACION": "migración saldos iniciales apertura datos históricos importar plantilla",
    "PARAMETRIZACION": "parámetro configuración tabla concepto fórmula plantilla",
    "CAPACITACION": "curso inducción capacitación manual participantes sesión",
}


def _plain(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


class Load:
    """Synthetic events: accounts, articles and tickets, each stream numbered as its writer would."""

    def __init__(self, organisations: int, seed: int):
        self.rng = random.Random(seed)
        self.orgs = [f"org-{i:04d}" for i in range(organisations)]
        self.org_desks = {o: (list(DESKS) if i % 5 == 0 else [list(DESKS)[i % 2]]) for i, o in enumerate(self.orgs)}
        self.agents = {desk: [f"u-{desk[:3].lower()}-{i:02d}" for i in range(6)] for desk in DESKS}
        self.numbers = {desk: 0 for desk in DESKS}
        self.modules = {desk: [m.code for m in CATALOG[desk].entries] for desk in DESKS}

    @staticmethod
    def _event(type_: str, stream: str, version: int, at: datetime, actor: Actor, data: dict) -> Envelope:
        return Envelope(type=type_, stream_id=stream, stream_version=version, occurred_at=at, actor=actor, data=data)

    def words(self, module: str, n: int) -> str:
        own = MODULE_WORDS.get(module, "").split()
        return " ".join(self.rng.choice(own if own and self.rng.random() < 0.6 else COMMON) for _ in range(n))

    def accounts(self) -> list[Envelope]:
        at = NOW - timedelta(days=400)
        events = []
        for o in self.orgs:
            events.append(self._event("OrganisationRegistered", f"org-{o}", 1, at, SYSTEM, {
                "organisation_id": o, "name": f"Club {o[4:]}", "tax_id": None, "desks": self.org_desks[o]}))
            events.append(self._event("UserRegistered", f"user-c-{o}", 1, at, SYSTEM, {
                "user_id": f"c-{o}", "email": f"c-{o}@x.ve", "name": f"Cliente {o[4:]}", "role": "customer",
                "organisation_id": o, "desks": self.org_desks[o], "language": "es", "phone": None}))
        for desk, agents in self.agents.items():
            for a in agents:
                events.append(self._event("UserRegistered", f"user-{a}", 1, at, SYSTEM, {
                    "user_id": a, "email": f"{a}@mesa.example", "name": a, "role": "agent", "organisation_id": None,
                    "desks": [desk], "language": "es", "phone": None}))
        return events

    def article(self, i: int) -> list[Envelope]:
        desk = list(DESKS)[i % 2]
        module = self.rng.choice(self.modules[desk])
        at = NOW - timedelta(days=300) + timedelta(minutes=i)
        stream, by = f"article-kb{i:05d}", self.agents[desk][0]
        base = {"article_id": f"kb{i:05d}", "desk": desk, "module": module, "by": by}
        events = [self._event("ArticleDrafted", stream, 1, at, Actor(by, "agent"), {
            **base, "version": 1, "title_es": f"Cómo resolver: {self.words(module, 5)}",
            "body_es": " ".join(self.words(module, 12) + "." for _ in range(6)), "title_en": "", "body_en": ""})]
        roll = self.rng.random()
        if roll < 0.85:
            events.append(self._event("ArticlePublished", stream, 2, at, Actor(by, "agent"), {**base, "version": 2}))
            if roll < 0.05:
                events.append(self._event("ArticleArchived", stream, 3, at, Actor(by, "agent"),
                                          {**base, "version": 3}))
        return events

    def ticket(self, opened: datetime) -> list[Envelope]:
        org = self.rng.choice(self.orgs)
        desk = self.rng.choice(self.org_desks[org])
        module = self.rng.choice(self.modules[desk])
        self.numbers[desk] += 1
        number = f"{DESKS[desk]}-{self.numbers[desk]:06d}"
        ticket_id = f"t-{number}"
        customer = Actor(f"c-{org}", "customer")
        agent = Actor(self.rng.choice(self.agents[desk]), "agent")
        case = self.words(module, 5)
        events = [self._event("TicketOpened", ticket_id, 1, opened, customer, {
            "ticket_id": ticket_id, "number": number, "desk": desk, "organisation_id": org, "opened_by": customer.id,
            "module": module, "case": case, "subject": f"{module}, {case}", "description": self.words(module, 30),
            "urgency": "normal", "special_process_id": None, "out_of_hours_requested": False,
            "contact": {"name": "Cliente", "email": "c@x.ve", "phone": "+58 212 555 0100"}, "member_number": None,
            "dates": None, "vouchers": None, "menu_path": None, "attachments": [], "previous_ticket": None,
            "confirmed_different_case": True, "language": "es", "month_end_warning": False})]
        for version, internal in ((2, False), (3, True)):
            events.append(self._event("MessagePosted", ticket_id, version, opened + timedelta(hours=version), agent, {
                "message_id": str(uuid.uuid4()), "author_id": agent.id, "author_role": "agent",
                "body": self.words(module, 15), "internal": internal, "attachments": [],
                "out_of_hours_requested": False}))
        return events


def load(url: str, tickets: int, articles: int, organisations: int, batch: int, seed: int) -> dict:
    from query import store
    gen = Load(organisations, seed)
    started, offset, applied = time.perf_counter(), 0, 0

    def apply(conn, events: list[Envelope]) -> None:
        nonlocal offset, applied
        store.apply_batch(conn, [Record(TOPIC_OF_EVENT[e.type], 0, offset + i, e) for i, e in enumerate(events)])
        conn.commit()
        offset += len(events)
        applied += len(events)

    with pg.connect(url) as conn:
        apply(conn, gen.accounts())
        pending: list[Envelope] = []
        for i in range(articles):
            pending.extend(gen.article(i))
        apply(conn, pending)
        pending = []
        span = timedelta(days=365)
        for i in range(tickets):
            opened = NOW - span + timedelta(days=span.days * i / tickets)
            pending.extend(gen.ticket(opened))
            if len(pending) >= batch:
                apply(conn, pending)
                pending = []
                if i % 10_000 < batch // 3:
                    rate = applied / (time.perf_counter() - started)
                    print(f"  {i:>9,} tickets, {applied:,} events, {rate:,.0f} events/s", flush=True)
        apply(conn, pending)
        counts = {name: conn.execute(f"select count(*) as n from {name}").fetchone()["n"]
                  for name in ("tickets", "thread", "kb_articles")}
        counts["published_articles"] = conn.execute(
            "select count(*) as n from kb_articles where status = 'published'").fetchone()["n"]
        conn.commit()
    with pg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")
    seconds = time.perf_counter() - started
    return {"events": applied, "seconds": round(seconds, 1), "events_per_s": round(applied / seconds), **counts}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def searches(rng: random.Random, customer: Claims) -> list[tuple[str, Claims, str, callable]]:
    """(label, who, path, params for one request) of each search measured."""
    supervisor = Claims("u-supervisor", "supervisor", None, tuple(DESKS), "Rosa", "s@mesa.example")
    agent = Claims("u-sop-00", "agent", None, ("SOPORTE",), "u-sop-00", "u-sop-00@mesa.example")
    _, synonyms = vocabulary()
    synonym_words = [w for groups in synonyms.values() for text in groups.values() for w in text.split()]

    def words(n: int) -> str:
        # The words of one case: one module's and the common ones (sometimes a synonym-group word, or
        # typed without its accents), as a person searching for a case would type them.
        own = MODULE_WORDS[rng.choice(list(MODULE_WORDS))].split()
        chosen = [rng.choice(synonym_words if rng.random() < 0.2 else (own if rng.random() < 0.7 else COMMON))
                  for _ in range(n)]
        return " ".join(_plain(w) if rng.random() < 0.3 else w for w in chosen)

    def text_of_a_new_ticket() -> dict:
        module = rng.choice(list(MODULE_WORDS))
        own = MODULE_WORDS[module].split()
        return {"desk": "SOPORTE", "text": " ".join(rng.choice(own + COMMON) for _ in range(12))}

    return [
        ("articles: search, customer, 1 word", customer, "/api/articles/search", lambda: {"q": words(1)}),
        ("articles: search, customer, 2 words", customer, "/api/articles/search", lambda: {"q": words(2)}),
        ("articles: search, agent, 2 words", agent, "/api/articles/search", lambda: {"q": words(2)}),
        ("articles: suggestions, 12 words (any)", customer, "/api/articles/suggestions", text_of_a_new_ticket),
        ("tickets: search, supervisor, 1 word", supervisor, "/api/tickets", lambda: {"q": words(1)}),
        ("tickets: search, supervisor, 2 words", supervisor, "/api/tickets", lambda: {"q": words(2)}),
        ("tickets: search, agent, 2 words", agent, "/api/tickets", lambda: {"q": words(2)}),
        ("tickets: search, customer, 1 word", customer, "/api/tickets", lambda: {"q": words(1)}),
    ]


def measure(url: str, requests: int, warmup: int, seed: int) -> list[dict]:
    from query.app import create_app
    from query.config import Config
    key = auth_tokens.new_signing_key()
    app = create_app(Config(url, "127.0.0.1:9092", auth_tokens.verify_key_of(key)), clock=lambda: NOW)
    client, rng = app.test_client(), random.Random(seed)
    customer = Claims("c-org-0000", "customer", "org-0000", tuple(DESKS), "Cliente 0000", "c-org-0000@x.ve")
    rows = []
    try:
        for label, who, path, params_of in searches(rng, customer):
            headers = {"Authorization": f"Bearer {auth_tokens.issue(key, who, NOW, 24 * 3600)}"}
            times, found = [], []
            for i in range(warmup + requests):
                params = params_of()
                t0 = time.perf_counter()
                response = client.get(path, headers=headers, query_string=params)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{label}: {response.status_code} {response.get_data(as_text=True)[:300]}")
                if i >= warmup:
                    times.append(elapsed)
                    body = response.get_json()
                    found.append(body.get("total", len(body.get("items", []))))
            rows.append({"search": label, "path": path, "n": len(times), "p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(percentile(times, 0.95), 1), "p99_ms": round(percentile(times, 0.99), 1),
                         "max_ms": round(max(times), 1), "median_found": statistics.median(found)})
            print(f"  {label:40} p50 {rows[-1]['p50_ms']:7.1f}  p95 {rows[-1]['p95_ms']:7.1f}  "
                  f"p99 {rows[-1]['p99_ms']:7.1f} ms  (median found {rows[-1]['median_found']})", flush=True)
    finally:
        app.extensions["query"].pool.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--organisations", type=int, default=400)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per search")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=3000, help="events per apply_batch transaction")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--database", help="reuse this already loaded database (skips the load)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()

    machine = machine_info(packages=("flask", "psycopg"), pg_settings=("shared_buffers", "work_mem"))
    print_fields("machine", machine)
    name = args.database or f"bench_search_{uuid.uuid4().hex[:8]}"
    from helpdesk_shared.localstack import PG_BASE_URL
    url = f"{PG_BASE_URL}/{name}" if args.database else create_database(name)
    try:
        loaded = None
        if not args.database:
            from query.app import migrate
            migrate(url)
            print(f"\nloading {args.articles:,} articles and {args.tickets:,} tickets (3 events each) into {name}")
            loaded = load(url, args.tickets, args.articles, args.organisations, args.batch, args.seed)
            print_fields("loaded", loaded)
        print(f"\n{args.requests} requests per search (after {args.warmup} warm-up), Flask test client")
        rows = measure(url, args.requests, args.warmup, args.seed)
        print(f"\n{'search':40} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  ms   target p95 <= {TARGET_MS} ms")
        for r in rows:
            print(f"{r['search']:40} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['p99_ms']:7.1f} {r['max_ms']:7.1f}"
                  f"       {'ok' if r['p95_ms'] <= TARGET_MS else 'OVER'}")
        after = {"load_average_after": [round(x, 2) for x in __import__("os").getloadavg()]}
        print_fields("", after)
        save_results("search", {"machine": machine, **after, "args": vars(args), "loaded": loaded, "searches": rows})
    finally:
        if args.keep or args.database:
            print(f"database kept: {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()

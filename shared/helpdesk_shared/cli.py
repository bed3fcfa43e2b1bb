"""The `mesa` command: what ops run to watch and repair Mesa (entry point; see README "operating Mesa").

    mesa events tail [--type T] [--ticket SOP-12|ID] [--organisation ORG] [--follow] [--from-beginning]
    mesa topics                        partitions, end offsets, each consumer's stored offset and lag
    mesa status                        every service: up, caught up / lag, SLA timers and mails pending
    mesa replay CONSUMER --from-beginning | --to-offset N [--topic T] [--partition P]
    mesa rebuild query                 replay query's topics into fresh tables and swap them in
    mesa check query                   rebuild into scratch tables and compare with the live ones
    mesa migrate [SERVICE...]          apply each service's numbered migrations (default: all four)

Where things are (flat environment variables, or the flags named):
  KAFKA_BOOTSTRAP_SERVERS (--bootstrap), KAFKA_TOPIC_PREFIX (--topic-prefix);
  each consumer's database: INTAKE_DATABASE_URL, QUERY_DATABASE_URL, SLA_DATABASE_URL,
  NOTIFIER_DATABASE_URL (--database-url SERVICE=URL; default the local stack's mesa_<service>);
  each service's base URL for /healthz: INTAKE_URL, QUERY_URL, SLA_URL, NOTIFIER_URL
  (--url SERVICE=URL; default http://127.0.0.1:8001..8004).
Every command prints for people, or JSON with --json. Exit status: 0 fine, 1 a difference or a
service down, 2 a refusal or bad arguments.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass

from .config import DEFAULT_KAFKA, DEFAULT_PG, env
from .ops_report import EventFilter, event_lines, lag, text_table
from .topics import ACCOUNTS, KNOWLEDGE, NOTIFICATIONS, OPERATIONS, SLA, TICKETS, TOPICS, WATERMARKS


@dataclass(frozen=True)
class Consumer:
    """A consumer loop of Mesa: where it stores its offsets and whether it may be replayed."""

    service: str
    name: str  # its consumer name in consumer_offsets (the service's CONSUMER_NAME)
    topics: tuple[str, ...]
    idempotent: bool
    replay_note: str  # what re-reading does, Spanish / English


CONSUMERS = {
    "query": Consumer("query", "query-tickets", (TICKETS, NOTIFICATIONS, ACCOUNTS, SLA, KNOWLEDGE), True,
                      "Idempotente: cada ticket recuerda la última versión aplicada, los correos y cuentas se "
                      "insertan por id; releer no cambia nada / Idempotent: each ticket remembers the last "
                      "version applied, mails and accounts are keyed by id; re-reading changes nothing."),
    "sla": Consumer("sla", "sla-timers", (TICKETS, WATERMARKS, ACCOUNTS), False,
                    "Vuelve a plegar los relojes y podría publicar de nuevo hechos de plazos; use "
                    "`mesa rebuild` cuando exista para el SLA / Re-folds the clocks and may publish deadline "
                    "facts again."),
    "notifier": Consumer("notifier", "notifier", (TICKETS, SLA, ACCOUNTS, OPERATIONS), False,
                         "Vuelve a planificar correos: las claves por (evento, destinatario, plantilla) evitan "
                         "duplicados de los que aún guarda, pero los ya purgados se enviarían otra vez / Re-plans "
                         "mails: rows still kept are not sent twice, purged ones would be sent again."),
    "intake": Consumer("intake", "intake-sla-decisions", (SLA,), False,
                       "Vuelve a aplicar las decisiones del SLA (cierres automáticos) a los tickets de intake / "
                       "Re-applies the SLA's decisions (auto-closes) to intake's tickets."),
}
PORTS = {"intake": 8001, "query": 8002, "sla": 8003, "notifier": 8004}


class Refused(Exception):
    """A command that must not run as asked (exit status 2)."""


# --------------------------------------------------------------------------- where things are

def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    found = {}
    for value in values or ():
        service, sep, url = value.partition("=")
        if not sep or service not in CONSUMERS:
            raise Refused(f"{what} espera SERVICIO=URL con SERVICIO en {sorted(CONSUMERS)} / expects SERVICE=URL: "
                          f"{value!r}")
        found[service] = url
    return found


def database_urls(args) -> dict[str, str]:
    """Each service's database: --database-url SERVICE=URL, <SERVICE>_DATABASE_URL, or the local stack's."""
    given = _pairs(getattr(args, "database_url", None), "--database-url")
    return {s: given.get(s) or env(f"{s.upper()}_DATABASE_URL", f"{DEFAULT_PG}mesa_{s}") for s in CONSUMERS}


def service_urls(args) -> dict[str, str]:
    """Each service's base URL: --url SERVICE=URL, <SERVICE>_URL, or localhost:800N."""
    given = _pairs(getattr(args, "url", None), "--url")
    return {s: (given.get(s) or env(f"{s.upper()}_URL", f"http://127.0.0.1:{PORTS[s]}")).rstrip("/")
            for s in CONSUMERS}


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# --------------------------------------------------------------------------- events tail

def tail(args) -> int:
    """Print events decoded, for people (or JSON lines), filtered; stop at the end unless --follow."""
    from kafka import KafkaConsumer, TopicPartition

    topics = [args.topic_prefix + t for t in (args.topic or [TICKETS, SLA, ACCOUNTS, NOTIFICATIONS])]
    wanted = EventFilter(types=frozenset(args.type or ()), ticket=args.ticket, organisation=args.organisation)
    if args.ticket and not args.from_beginning:
        wanted.number_of.update(_known_ticket(args, args.ticket))
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="mesa-tail")
    parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(parts)
    if args.from_beginning:
        consumer.seek_to_beginning(*parts)
    else:
        ends = consumer.end_offsets(parts)  # the last --last events of each partition
        for tp in parts:
            consumer.seek(tp, max(0, ends[tp] - args.last))
    shown = 0
    ends = consumer.end_offsets(parts)
    try:
        while True:
            polled = consumer.poll(timeout_ms=500)
            for tp, messages in polled.items():
                for m in messages:
                    try:
                        doc = json.loads(m.value)
                    except (ValueError, TypeError):
                        doc = {"type": "?", "undecodable": (m.value or b"").decode("utf-8", "replace")}
                    if not isinstance(doc, dict) or not wanted.matches(doc, tp.topic):
                        continue
                    if args.json:
                        print(json.dumps({"topic": tp.topic, "partition": tp.partition, "offset": m.offset,
                                          "key": m.key and m.key.decode(), "event": doc}, ensure_ascii=False))
                    else:
                        ticket_id = wanted.ticket_of(doc, tp.topic)
                        print(event_lines(tp.topic, tp.partition, m.offset, doc,
                                          wanted.number_of.get(ticket_id) if ticket_id else None))
                    sys.stdout.flush()
                    shown += 1
                    if args.max and shown >= args.max:
                        return 0
            if not args.follow and all(consumer.position(tp) >= ends[tp] for tp in parts):
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


def _known_ticket(args, ticket: str) -> dict[str, str]:
    """Ticket id -> number for `ticket` from query's database, so a number matches events after its opening."""
    try:
        from . import pg
        with pg.connect(database_urls(args)["query"]) as conn:
            row = conn.execute("select ticket_id, number from tickets where number = upper(%s) or ticket_id = %s",
                               (ticket, ticket)).fetchone()
        return {row["ticket_id"]: row["number"]} if row else {}
    except Exception:  # noqa: BLE001 -- only a hint: without query's database the tail learns from the log
        return {}


# --------------------------------------------------------------------------- topics, status

def _offsets(bootstrap: str, topics: list[str]):
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="mesa-topics")
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(parts) if parts else {}
        begins = consumer.beginning_offsets(parts) if parts else {}
        return ({(tp.topic, tp.partition): v for tp, v in ends.items()},
                {(tp.topic, tp.partition): v for tp, v in begins.items()})
    finally:
        consumer.close()


def _stored(url: str, consumer: str) -> dict | None:
    """A consumer's stored offsets, or None when its database cannot be read."""
    from . import pg
    try:
        with pg.connect(url) as conn:
            conn.execute("set statement_timeout = 5000")
            return pg.load_offsets(conn, consumer)
    except Exception:  # noqa: BLE001 -- shown as "unknown"; the other consumers are still reported
        return None


def consumer_lags(args) -> list[dict]:
    """Per consumer: per partition of each topic it reads, end offset, stored offset and lag."""
    prefix = args.topic_prefix
    topics = sorted({prefix + t for c in CONSUMERS.values() for t in c.topics})
    ends, begins = _offsets(args.bootstrap, topics)
    urls = database_urls(args)
    out = []
    for key, c in CONSUMERS.items():
        stored = _stored(urls[key], c.name)
        mine = {tp: e for tp, e in ends.items() if tp[0] in {prefix + t for t in c.topics}}
        lags = lag(mine, stored or {}, begins) if stored is not None else {}
        out.append({"consumer": key, "name": c.name, "database": _safe(urls[key]), "reachable": stored is not None,
                    "lag": sum(lags.values()) if stored is not None else None,
                    "partitions": [{"topic": t, "partition": p, "end_offset": mine[(t, p)],
                                    "stored_offset": (stored or {}).get((t, p)), "lag": lags.get((t, p))}
                                   for (t, p) in sorted(mine)]})
    return out


def _safe(url: str) -> str:
    """A database URL without its password."""
    from psycopg.conninfo import conninfo_to_dict
    try:
        d = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 -- not parseable: show nothing of it
        return "?"
    return f"{d.get('host', '')}:{d.get('port', '')}/{d.get('dbname', '')}"


def topics_command(args) -> int:
    """Partitions and end offsets of each topic; each consumer's stored offsets and lag."""
    report = consumer_lags(args)
    ends, _ = _offsets(args.bootstrap, [args.topic_prefix + t.name for t in TOPICS])
    topics = {}
    for (t, p), e in sorted(ends.items()):
        topics.setdefault(t, []).append({"partition": p, "end_offset": e})
    if args.json:
        _print_json({"topics": topics, "consumers": report})
        return 0
    print("Temas / topics")
    print(text_table(["tema/topic", "particiones/partitions", "fin/end offsets"],
                     [[t, len(ps), sum(p["end_offset"] for p in ps)] for t, ps in topics.items()]))
    for c in report:
        print(f"\nConsumidor / consumer {c['consumer']} ({c['name']}, {c['database']}): "
              + (f"retraso/lag {c['lag']}" if c["reachable"] else "base de datos inaccesible / database unreachable"))
        print(text_table(["tema/topic", "part.", "fin/end", "guardado/stored", "retraso/lag"],
                         [[p["topic"], p["partition"], p["end_offset"], p["stored_offset"], p["lag"]]
                          for p in c["partitions"]]))
    return 0


def _health(url: str) -> tuple[str, dict | None]:
    import requests
    try:
        r = requests.get(f"{url}/healthz", timeout=3)
    except requests.RequestException:
        return "down", None
    try:
        body = r.json()
    except ValueError:
        body = None
    return ("up" if r.ok else f"unhealthy ({r.status_code})"), body


def _scalar(url: str, query: str) -> dict | None:
    from . import pg
    try:
        with pg.connect(url) as conn:
            conn.execute("set statement_timeout = 5000")
            return conn.execute(query).fetchone()
    except Exception:  # noqa: BLE001 -- reported as unknown
        return None


def status_command(args) -> int:
    """Every service: up, caught up or its lag, SLA timers pending, mails pending."""
    lags = {c["consumer"]: c for c in consumer_lags(args)}
    urls, dbs = service_urls(args), database_urls(args)
    timers = _scalar(dbs["sla"], "select count(*) as pending, min(next_due) as next_due from clocks "
                                 "where next_due is not null")
    mails = _scalar(dbs["notifier"], "select count(*) filter (where status = 'pending') as pending, "
                                     "count(*) filter (where status = 'failed') as failed from mails")
    services = []
    for s in CONSUMERS:
        state, body = _health(urls[s])
        c = lags[s]
        services.append({"service": s, "url": urls[s], "health": state, "healthz": body,
                         "consumer": c["name"], "lag": c["lag"],
                         "caught_up": (c["lag"] == 0) if c["reachable"] else None})
    report = {"services": services, "sla_timers_pending": timers and timers["pending"],
              "sla_next_due": timers and timers["next_due"], "mails_pending": mails and mails["pending"],
              "mails_failed": mails and mails["failed"]}
    if args.json:
        _print_json(report)
    else:
        def caught(s):
            return "?" if s["caught_up"] is None else ("al día / caught up" if s["caught_up"] else "atrasado / behind")
        print(text_table(["servicio/service", "estado/health", "consumidor/consumer", "al día/caught up",
                          "retraso/lag"],
                         [[s["service"], s["health"], s["consumer"], caught(s), s["lag"]] for s in services]))
        unknown = "? (base de datos inaccesible / database unreachable)"
        print("\nRelojes SLA pendientes / SLA timers pending: "
              + (f"{timers['pending']} (próximo/next {timers['next_due']})" if timers else unknown))
        print("Correos pendientes / mails pending: "
              + (f"{mails['pending']} (fallidos/failed {mails['failed']})" if mails else unknown))
    return 0 if all(s["health"] == "up" for s in services) else 1


# --------------------------------------------------------------------------- replay

def replay_command(args) -> int:
    """Move a consumer's stored offsets back; the running consumer notices at its next batch."""
    from . import pg
    c = CONSUMERS[args.consumer]
    if not c.idempotent and not args.yes:
        raise Refused(f"{c.name} no es idempotente; repita con --yes si es lo que quiere / is not idempotent; "
                      f"repeat with --yes if that is what you want. {c.replay_note}")
    topics = [args.topic_prefix + t for t in c.topics]
    if args.topic:
        if args.topic_prefix + args.topic not in topics:
            raise Refused(f"{c.name} no lee / does not read {args.topic}")
        topics = [args.topic_prefix + args.topic]
    ends, begins = _offsets(args.bootstrap, topics)
    chosen = {tp: v for tp, v in begins.items() if args.partition is None or tp[1] == args.partition}
    if not chosen:
        raise Refused("ninguna partición coincide / no partition matches")
    url = database_urls(args)[args.consumer]
    with pg.connect(url) as conn:
        pg.bump_generation(conn, c.name)  # waits for the running loop's batch, holds the next one
        stored = pg.load_offsets(conn, c.name)
        moved = {}
        for tp, begin in chosen.items():
            target = begin if args.from_beginning else min(max(args.to_offset, begin), ends[tp])
            if args.to_offset is not None and stored.get(tp, begin) < target:
                continue  # replay only goes back; forward would skip events
            moved[tp] = target
        pg.save_offsets(conn, c.name, moved)
    result = {"consumer": c.name, "moved": [{"topic": t, "partition": p, "from": stored.get((t, p)), "to": o}
                                            for (t, p), o in sorted(moved.items())], "note": c.replay_note}
    if args.json:
        _print_json(result)
    else:
        print(f"{c.name}: {len(moved)} particiones movidas / partitions moved. {c.replay_note}")
        print(text_table(["tema/topic", "part.", "desde/from", "hasta/to"],
                         [[m["topic"], m["partition"], m["from"], m["to"]] for m in result["moved"]]))
    return 0


# --------------------------------------------------------------------------- rebuild, check

def _read_model(args):
    if args.service != "query":
        raise Refused(f"solo query tiene un modelo reconstruible / only query has a rebuildable read model: "
                      f"{args.service}")
    # Found by the operator's service name, not imported by name: the kernel imports no service (issue 10).
    return importlib.import_module(f"{args.service}.rebuild").read_model(args.topic_prefix)


class ProgressBar:
    """Draws a rebuild's progress on stderr: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, stream=None, every: float = 5.0):
        self.label, self.stream, self.every = label, stream or sys.stderr, every
        # `last` None: the first call always draws (time.monotonic() counts from an arbitrary point).
        self.started, self.last = time.monotonic(), None
        self.done_before = 0  # events of earlier phases (catch-up rounds)
        self.phase_total = 0

    def __call__(self, done: int, total: int) -> None:
        from .progress import Progress, line
        if done == 0:  # a new phase: the earlier ones' events stay counted
            self.done_before += self.phase_total
        self.phase_total = total
        now = time.monotonic()
        p = Progress(self.done_before + done, self.done_before + total, now - self.started)
        tty = self.stream.isatty()
        if tty or self.last is None or now - self.last >= self.every or done >= total:
            self.stream.write(("\r" if tty else "") + f"{self.label} {line(p)}" + ("" if tty else "\n"))
            self.stream.flush()
            self.last = now

    def close(self) -> None:
        """End the line on a terminal."""
        if self.stream.isatty():
            self.stream.write("\n")


def rebuild_command(args) -> int:
    """`mesa rebuild query`."""
    from .rebuild import rebuild
    model = _read_model(args)
    bar = ProgressBar(f"reconstruyendo/rebuilding {args.service}")
    try:
        result = rebuild(database_urls(args)[args.service], args.bootstrap, model, progress=bar)
    finally:
        bar.close()
    rate = result.events / result.seconds if result.seconds else 0
    if args.json:
        _print_json({"service": args.service, "events": result.events, "seconds": round(result.seconds, 3),
                     "events_per_second": round(rate, 1), "generation": result.generation})
    else:
        print(f"{args.service}: {result.events} eventos reaplicados en {result.seconds:.1f} s ({rate:.0f} ev/s) y "
              f"tablas intercambiadas / events re-applied and tables swapped in (generation {result.generation})")
    return 0


def check_command(args) -> int:
    """`mesa check query`: exit 1 when the live model differs from one rebuilt from the log."""
    from .rebuild import check
    from .table_diff import describe
    model = _read_model(args)
    bar = ProgressBar(f"comprobando/checking {args.service}")
    try:
        result = check(database_urls(args)[args.service], args.bootstrap, model, progress=bar, limit=args.limit)
    finally:
        bar.close()
    if args.json:
        _print_json({"service": args.service, "consistent": result.consistent, "differing_tables": result.differing,
                     "tables": {t: {"live_rows": result.live.get(t) and result.live[t].rows,
                                    "rebuilt_rows": result.rebuilt.get(t) and result.rebuilt[t].rows,
                                    "live_checksum": result.live.get(t) and str(result.live[t].checksum),
                                    "rebuilt_checksum": result.rebuilt.get(t) and str(result.rebuilt[t].checksum)}
                                for t in sorted(result.live.keys() | result.rebuilt.keys())},
                     "rows": [{"table": d.table, "key": d.key, "kind": d.kind, "columns": d.columns, "row": d.row}
                              for d in result.rows]})
    else:
        rows = []
        for t in sorted(result.live.keys() | result.rebuilt.keys()):
            a, b = result.live.get(t), result.rebuilt.get(t)
            rows.append([t, a and a.rows, b and b.rows, "igual / same" if t not in result.differing
                         else "DIFIERE / DIFFERS"])
        print(text_table(["tabla/table", "vivo/live", "reconstruido/rebuilt", "suma/checksum"], rows))
        for d in result.rows:
            print(describe(d))
        print("consistente / consistent" if result.consistent else
              f"INCONSISTENTE / INCONSISTENT: {', '.join(result.differing)}")
    return 0 if result.consistent else 1


def migration_folder(service: str):
    """A service's migrations folder (`<service>/migrations/`), found by the package's name: the
    kernel imports no service, the command resolves the one it is asked for."""
    import importlib
    return importlib.import_module(f"{service}.migrations").DIRECTORY


def migrate_services(urls: dict[str, str]) -> dict[str, list[int]]:
    """Apply the migrations of each service to its database (in the order given); the versions applied."""
    from . import migrations
    return {service: migrations.migrate(url, migration_folder(service)) for service, url in urls.items()}


def migrate_command(args) -> int:
    """`mesa migrate [SERVICE...]`: every migration not yet applied, once, before the services start."""
    from . import migrations
    urls = database_urls(args)
    services = args.service or sorted(CONSUMERS)
    unknown = sorted(set(services) - set(CONSUMERS))
    if unknown:
        raise Refused(f"sin migraciones / no migrations: {', '.join(unknown)}; servicios / services: "
                      f"{', '.join(sorted(CONSUMERS))}")
    applied = migrate_services({s: urls[s] for s in services})
    versions = {s: migrations.current_version(urls[s]) for s in services}
    if args.json:
        _print_json({s: {"applied": applied[s], "version": versions[s]} for s in services})
    else:
        for s in services:
            done = ", ".join(f"{v:04d}" for v in applied[s]) or "ninguna / none"
            print(f"{s}: versión/version {versions[s]:04d} ({_safe(urls[s])}); aplicadas ahora / applied now: {done}")
    return 0


# --------------------------------------------------------------------------- arguments

def parser() -> argparse.ArgumentParser:
    """The command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", default=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA))
    common.add_argument("--topic-prefix", default=os.environ.get("KAFKA_TOPIC_PREFIX", ""))
    common.add_argument("--database-url", action="append", metavar="SERVICE=URL",
                        help="base de datos de un servicio / a service's database (repeatable)")
    common.add_argument("--json", action="store_true", help="JSON en vez de texto / JSON instead of text")
    p = argparse.ArgumentParser(prog="mesa", description="Operación de Mesa / Mesa operations",
                                epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="group", required=True)

    events = sub.add_parser("events").add_subparsers(dest="command", required=True)
    t = events.add_parser("tail", parents=[common], help="eventos decodificados / decoded events")
    t.add_argument("--topic", action="append", help="tema sin prefijo / topic without prefix (default: all four)")
    t.add_argument("--type", action="append", help="tipo de evento / event type (repeatable)")
    t.add_argument("--ticket", help="número (SOP-12) o id del ticket / ticket number or id")
    t.add_argument("--organisation", help="id de la organización / organisation id")
    t.add_argument("--follow", "-f", action="store_true", help="seguir esperando / keep waiting for events")
    t.add_argument("--from-beginning", action="store_true")
    t.add_argument("--last", type=int, default=20, help="sin --from-beginning: los N últimos por partición")
    t.add_argument("--max", type=int, default=None, help="parar tras N eventos / stop after N events")
    t.set_defaults(run=tail)

    sub.add_parser("topics", parents=[common], help="offsets y retraso / offsets and lag").set_defaults(
        run=topics_command)
    s = sub.add_parser("status", parents=[common], help="estado de cada servicio / every service's state")
    s.add_argument("--url", action="append", metavar="SERVICE=URL")
    s.set_defaults(run=status_command)

    r = sub.add_parser("replay", parents=[common], help="releer desde un offset / re-read from an offset")
    r.add_argument("consumer", choices=sorted(CONSUMERS))
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--from-beginning", action="store_true")
    where.add_argument("--to-offset", type=int)
    r.add_argument("--topic", help="solo este tema (sin prefijo) / only this topic")
    r.add_argument("--partition", type=int)
    r.add_argument("--yes", action="store_true", help="aceptar releer un consumidor no idempotente")
    r.set_defaults(run=replay_command)

    for name, run, text in (("rebuild", rebuild_command, "reconstruir y cambiar / rebuild and swap in"),
                            ("check", check_command, "comparar con una reconstrucción / compare with a rebuild")):
        c = sub.add_parser(name, parents=[common], help=text)
        c.add_argument("service", choices=["query"])
        if name == "check":
            c.add_argument("--limit", type=int, default=5, help="filas distintas a mostrar / differing rows shown")
        c.set_defaults(run=run)
    m = sub.add_parser("migrate", parents=[common], help="aplicar migraciones / apply migrations")
    # Checked in migrate_command: argparse refuses an empty list when `choices` is given (bpo-9625).
    m.add_argument("service", nargs="*", help=f"{', '.join(sorted(CONSUMERS))}; por omisión, todos / default: all")
    m.set_defaults(run=migrate_command)
    return p


def main(argv=None) -> None:
    """Entry point of the `mesa` command."""
    args = parser().parse_args(argv)
    from .rebuild import RebuildBusy
    try:
        code = args.run(args)
    except (Refused, RebuildBusy) as exc:
        print(str(exc), file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()

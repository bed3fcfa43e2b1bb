"""Ops CLI: `mesa events tail --topic helpdesk.tickets [--from-beginning] [--max N]`."""
from __future__ import annotations

import argparse
import json
import sys

from .config import DEFAULT_KAFKA, env


def tail(topic: str, bootstrap: str, from_beginning: bool, max_messages: int | None, idle_ms: int | None) -> int:
    """Print each event on `topic` as one JSON line with its partition and offset."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest" if from_beginning else "latest",
                             consumer_timeout_ms=idle_ms if idle_ms else float("inf"))
    seen = 0
    try:
        for m in consumer:
            try:
                value = json.loads(m.value)
            except ValueError:
                value = {"undecodable": m.value.decode("utf-8", "replace")}
            print(json.dumps({"partition": m.partition, "offset": m.offset, "key": m.key and m.key.decode(),
                              "event": value}, ensure_ascii=False), flush=True)
            seen += 1
            if max_messages and seen >= max_messages:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return seen


def main(argv=None) -> None:
    """Entry point of the `mesa` command."""
    parser = argparse.ArgumentParser(prog="mesa", description="Mesa operations")
    sub = parser.add_subparsers(dest="group", required=True)
    events = sub.add_parser("events").add_subparsers(dest="command", required=True)
    t = events.add_parser("tail", help="print a topic's events as JSON lines")
    t.add_argument("--topic", required=True)
    t.add_argument("--bootstrap", default=env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA))
    t.add_argument("--from-beginning", action="store_true")
    t.add_argument("--max", type=int, default=None, help="stop after N events")
    t.add_argument("--idle-ms", type=int, default=None, help="stop after this long without events")
    args = parser.parse_args(argv)
    tail(args.topic, args.bootstrap, args.from_beginning, args.max, args.idle_ms)
    sys.exit(0)


if __name__ == "__main__":
    main()

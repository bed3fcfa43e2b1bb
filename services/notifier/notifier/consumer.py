"""The notifier's consumer (entry point `python -m notifier.consumer`): reads helpdesk.tickets,
helpdesk.sla and helpdesk.accounts and records, with its offsets, every mail owed."""
from __future__ import annotations

import functools
import threading
from datetime import datetime
from pathlib import Path
from typing import Callable

from helpdesk_shared.clock import clock_from_env, utc_now
from helpdesk_shared.entrypoint import serve
from helpdesk_shared import link_tokens
from helpdesk_shared.business_calendar import venezuela_default
from helpdesk_shared.kafka import BACKGROUND_GATHER_S, ConsumerLoop
from helpdesk_shared.topics import ACCOUNTS, OPERATIONS, SLA, TICKETS

from . import messages, store, template_store
from .config import DESKS, Config
from .rendering import Renderer

CONSUMER_NAME = "notifier"
TOPICS = (TICKETS, SLA, ACCOUNTS, OPERATIONS)
PACKAGED_TEMPLATES = Path(__file__).with_name("templates")



def renderer(config: Config) -> Renderer:
    """Templates: a supervisor's override folder (TEMPLATES_DIR) first, then the packaged ones."""
    dirs = [Path(config.templates_dir)] if config.templates_dir else []
    return Renderer(dirs + [PACKAGED_TEMPLATES])


def links(config: Config, clock: Callable[[], datetime]) -> messages.Links:
    """Where mails point: the portal's pages (PUBLIC_URL), signed links for "solved" / "not solved"
    (a confirmation page whose form posts the token to intake), for choosing a password and for
    rating a ticket closed as solved ("Buena atención" / "Mala atención")."""
    base = config.public_url.rstrip("/")

    def resolution_url(number: str, user_id: str, answer: str) -> str:
        token = link_tokens.sign(config.link_secret, link_tokens.RESOLUTION, {"t": number, "u": user_id}, clock(),
                                 config.reply_token_days * 86400)
        return f"{base}/resolve/{token}" + ("" if answer == "solved" else "?answer=not_solved")

    def set_password_url(user_id: str) -> str:
        now = clock()
        token = link_tokens.sign(config.link_secret, link_tokens.PASSWORD, {"u": user_id, "i": int(now.timestamp())},
                                 now, 7 * 86400)
        return f"{base}/set-password/{token}"

    def rating_url(number: str, user_id: str, rating: str) -> str:
        # Its own purpose (link_tokens.RATING), hence its own key: a rating link answers nothing else.
        token = link_tokens.sign(config.link_secret, link_tokens.RATING, {"t": number, "u": user_id}, clock(),
                                 config.reply_token_days * 86400)
        return f"{base}/rate/{token}?rating={rating}"

    return messages.Links(ticket_url=lambda n: f"{base}/tickets/{n}", resolution_url=resolution_url,
                          new_ticket_url=lambda n: f"{base}/tickets/new?previous_ticket={n}",
                          course_url=f"{base}/training", portal_url=base, set_password_url=set_password_url,
                          rating_url=rating_url,
                          articles_url=lambda desk, module: f"{base}/articles?desk={desk}&module={module}")


def build(config: Config, clock: Callable[[], datetime] = utc_now,
          stop: threading.Event | None = None) -> ConsumerLoop:
    """The consumer loop over the three topics, planning and recording mails (waiting for what it
    depends on until it is there, or `stop`)."""
    store.require_migrated(config.database_url)
    desks = {d: messages.DeskContacts(queue_address=config.queue_addresses[d], staff_address=config.staff_address,
                                      supervisor_address=config.supervisor_address,
                                      phones=config.office_phones[d], oncall_address=config.oncall_addresses.get(d, ""))
             for d in DESKS}
    # The calendar for writing instants (time zone) and, in mails the SLA's DeadlineSet does not
    # inform, office hours: the default desk calendar. Deadlines come from the SLA service.
    calendar = venezuela_default(range(clock().year - 1, clock().year + 3))
    render = renderer(config)
    plan = functools.partial(messages.plan, desks=desks, calendar=calendar, links=links(config, clock))

    def handle_batch(conn, records) -> None:
        # Supervisors' texts as they are when the batch is read (in its transaction).
        texts = template_store.current_texts(conn)
        store.record_batch(conn, records, plan,
                           lambda mail: tuple(render.render(mail, texts.get((mail.template,
                                                                             mail.recipient.language or "es")))),
                           secret=config.reply_secret, reply_domain=config.reply_domain,
                           token_days=config.reply_token_days, now=clock())

    prefix = config.kafka_topic_prefix
    return ConsumerLoop(bootstrap=config.kafka_bootstrap_servers, database_url=config.database_url,
                        consumer_name=CONSUMER_NAME, topics=[prefix + t for t in TOPICS],
                        handle_batch=handle_batch, group_id=prefix + CONSUMER_NAME,
                        mode=config.consumer_mode, stop=stop, gather_s=BACKGROUND_GATHER_S)


def main() -> None:
    """Run until SIGTERM/SIGINT."""
    serve("notifier-consumer", lambda stop: build(Config.from_env(), clock_from_env(), stop).run(stop))


if __name__ == "__main__":
    main()

"""The inbound SMTP endpoint (entry point `python -m notifier.inbound_server`): e-mail replies
to notifications become messages on their tickets."""
from __future__ import annotations

import signal
import threading

from helpdesk_shared import logs

from . import store
from .config import Config
from .consumer import renderer, utc_now
from .replies import ReplyIntake
from .smtp_inbound import ReplyHandler, start_server


def main() -> None:
    """Serve SMTP on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT until SIGTERM/SIGINT."""
    logs.setup("notifier-inbound")
    config = Config.from_env()
    store.migrate(config.database_url)
    render = renderer(config)
    intake = ReplyIntake(config, utc_now, lambda mail: tuple(render.render(mail)))
    controller = start_server(ReplyHandler(intake.accept), config.inbound_host, config.inbound_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

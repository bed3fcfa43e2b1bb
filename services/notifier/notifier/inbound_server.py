"""The inbound SMTP endpoint (entry point `python -m notifier.inbound_server`): e-mail replies
to notifications become messages on their tickets."""
from __future__ import annotations


from helpdesk_shared.clock import utc_now
from helpdesk_shared.entrypoint import serve

from . import store
from .config import Config
from .consumer import renderer
from .replies import ReplyIntake
from .smtp_inbound import ReplyHandler, start_server


def main() -> None:
    """Serve SMTP on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT until SIGTERM/SIGINT."""
    config = Config.from_env()
    store.migrate(config.database_url)
    render = renderer(config)
    intake = ReplyIntake(config, utc_now, lambda mail: tuple(render.render(mail)))

    def run(stop) -> None:
        controller = start_server(ReplyHandler(intake.accept), config.inbound_host, config.inbound_port)
        try:
            stop.wait()
        finally:
            controller.stop()

    serve("notifier-inbound", run)


if __name__ == "__main__":
    main()

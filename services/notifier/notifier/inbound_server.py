"""The inbound SMTP endpoint (entry point `python -m notifier.inbound_server`): e-mail replies
to notifications become messages on their tickets."""
from __future__ import annotations


from helpdesk_shared.clock import clock_from_env
from helpdesk_shared import pg
from helpdesk_shared.entrypoint import serve

from . import store, template_store
from .config import Config
from .consumer import renderer
from .replies import ReplyIntake
from .smtp_inbound import ReplyHandler, start_server


def main() -> None:
    """Serve SMTP on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT until SIGTERM/SIGINT."""
    config = Config.from_env()
    store.require_migrated(config.database_url)
    render = renderer(config)

    def render_mail(mail) -> tuple:
        # A supervisor's text for the answer, if any (rare mails: a short connection each).
        with pg.connect(config.database_url) as conn:
            text = template_store.current_texts(conn).get((mail.template, mail.recipient.language or "es"))
        return tuple(render.render(mail, text))

    intake = ReplyIntake(config, clock_from_env(), render_mail)

    def run(stop) -> None:
        controller = start_server(ReplyHandler(intake.accept), config.inbound_host, config.inbound_port)
        try:
            stop.wait()
        finally:
            controller.stop()

    serve("notifier-inbound", run)


if __name__ == "__main__":
    main()

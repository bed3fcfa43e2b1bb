"""Client CPU of the sender's MIME text and of a notifier render, per sample mail (issue 11).

Every sample mail of every template, in Spanish and English (notifier.template_samples, the mails the
template editor previews), rendered with the shipped templates and then encoded as the sender encodes
it (notifier.mailer.mime_bytes). Prints microseconds of process CPU per mail, best of --repeat rounds
(a round encodes every sample --rounds times), and the machine.

    PYTHONPATH=... .venv/bin/python bench/mime_bench.py [--rounds 20] [--repeat 5]

To compare two versions, run it with each one's PYTHONPATH (a `git worktree` of the older one): the
figures are the same work on the same machine.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from machine import machine_info
from notifier import rendering
from notifier.mailer import Outgoing, mime_bytes
from notifier.messages import LANGUAGES, TEMPLATES
from notifier.rendering import Renderer
from notifier.template_samples import samples

SENDER = "Mesa <soporte@mesa.test>"
DATE = "Wed, 02 Dec 2026 12:00:00 -0000"


def _best(work, rounds: int, repeat: int, n: int) -> float:
    """Microseconds of process CPU per item, best of `repeat` rounds of `rounds` passes over n items."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(rounds):
            work()
        best = min(best, (time.process_time() - start) / (rounds * n) * 1e6)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    renderer = Renderer([Path(rendering.__file__).with_name("templates")])
    mails = [m for language in LANGUAGES for template in TEMPLATES for m in samples(template, language)]
    rendered = [renderer.render(m) for m in mails]
    outgoing = [Outgoing(recipient=m.recipient.email or "socio@club.test", subject=r[0], text=r[1], html=r[2],
                         message_id=f"<{i}@mesa.test>", reply_to="respuesta+abc@mesa.test",
                         language=m.recipient.language)
                for i, (m, r) in enumerate(zip(mails, rendered))]
    render_us = _best(lambda: [renderer.render(m) for m in mails], args.rounds, args.repeat, len(mails))
    mime_us = _best(lambda: [mime_bytes(o, SENDER, DATE, "b") for o in outgoing], args.rounds, args.repeat,
                    len(outgoing))
    print(json.dumps({"mails": len(outgoing), "render_us_per_mail": round(render_us, 1),
                      "mime_bytes_us_per_mail": round(mime_us, 1), "machine": machine_info(stack=False),
                      "argv": sys.argv[1:]}, indent=1))


if __name__ == "__main__":
    main()

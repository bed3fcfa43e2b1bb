"""Intake's numbered migrations (helpdesk_shared.migrations runs them: `mesa migrate intake`)."""
from pathlib import Path

DIRECTORY = Path(__file__).parent

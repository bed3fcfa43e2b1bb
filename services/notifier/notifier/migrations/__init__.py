"""Notifier's numbered migrations (helpdesk_shared.migrations runs them: `mesa migrate notifier`)."""
from pathlib import Path

DIRECTORY = Path(__file__).parent

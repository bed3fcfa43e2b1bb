"""Query's numbered migrations (helpdesk_shared.migrations runs them: `mesa migrate query`)."""
from pathlib import Path

DIRECTORY = Path(__file__).parent

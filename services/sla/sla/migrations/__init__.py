"""SLA's numbered migrations (helpdesk_shared.migrations runs them: `mesa migrate sla`)."""
from pathlib import Path

DIRECTORY = Path(__file__).parent

"""CONSUMER_MODE: how a consumer's instances share its topics (issue 11)."""
import pytest

from helpdesk_shared.config import consumer_mode
from helpdesk_shared.kafka import ConsumerLoop


def test_consumers_join_their_kafka_group_unless_told_to_run_single(monkeypatch):
    monkeypatch.delenv("CONSUMER_MODE", raising=False)
    assert consumer_mode() == "group"
    monkeypatch.setenv("CONSUMER_MODE", "single")
    assert consumer_mode() == "single"


def test_an_unknown_consumer_mode_stops_the_consumer_naming_the_variable_before_it_connects():
    with pytest.raises(ValueError, match="CONSUMER_MODE must be one of group, single"):
        ConsumerLoop(bootstrap="127.0.0.1:1", database_url="postgresql://nobody@127.0.0.1:1/none",
                     consumer_name="c", topics=["t"], handle_batch=lambda conn, records: None, mode="groups")

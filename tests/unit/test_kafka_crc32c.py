"""kafka-python checks every record batch's CRC-32C; with the `crc32c` package installed it uses
that C implementation instead of its pure-Python one (issue 11, "cheaper decode and checksums")."""
from __future__ import annotations

import crc32c
from kafka.record import util


def test_kafka_python_checks_record_batches_with_the_c_crc32c():
    assert util.calc_crc32c.__defaults__[0] is crc32c.crc32c
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720, B.4)

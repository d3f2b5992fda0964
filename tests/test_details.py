"""Engine records as JSON and in words."""

import json

from tlsbench.engine.records.details import CertInfo, ChainDetail


def cert(days_left: int) -> CertInfo:
    return CertInfo(0, "CN=a", "CN=b", ("DNS:a",), "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", days_left,
                    "1f", "EC", 256, "ecdsa-with-SHA256", "AA:BB", False, False)


def test_lifetime_reads_as_words():
    assert cert(12).lifetime == "12 days left"
    assert cert(0).lifetime == "0 days left"
    assert cert(-31).lifetime == "expired 31 days ago"


def test_nested_records_become_json_objects_and_lists():
    chain = ChainDetail((cert(3), cert(-1)), verified=False, verify_code=10)
    text = json.dumps(chain.to_dict())
    back = json.loads(text)
    assert [c["days_left"] for c in back["certificates"]] == [3, -1]
    assert back["certificates"][0]["sans"] == ["DNS:a"] and back["verify_code"] == 10

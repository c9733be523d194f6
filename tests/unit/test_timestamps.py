"""The adapters' response timestamp parser reads what botocore's default parser reads, the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import botocore.utils
from hypothesis import given
from hypothesis import strategies as st

from adapters.clients import parse_timestamp

MOMENTS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1))
ZONES = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)


def forms(moment: datetime) -> list[str]:
    """ISO 8601 as APIs write it: with and without fractions, with Z, an offset, or no zone."""
    out = [moment.isoformat(), moment.isoformat(timespec="seconds"), moment.isoformat(timespec="milliseconds")]
    if moment.utcoffset() == timedelta(0):
        out += [text.replace("+00:00", "Z") for text in out]
    return out


@given(moment=MOMENTS, zone=ZONES)
def test_iso_timestamps_parse_as_botocore_parses_them(moment, zone):
    # Given a timestamp written in any of the ISO forms an API answers with
    for text in forms(moment.replace(tzinfo=zone)):
        # When both parsers read it
        ours, theirs = parse_timestamp(text), botocore.utils.parse_timestamp(text)

        # Then they agree, down to how the worker publishes it
        assert ours == theirs
        assert ours.isoformat() == theirs.isoformat()


def test_other_forms_go_to_botocore_itself():
    # Given timestamps outside the ISO forms the fast path takes: epoch seconds, RFC 822, 7 fraction digits
    for value in (1_700_000_000, "1700000000.5", "Tue, 14 Nov 2023 22:13:20 GMT", "2023-11-14T22:13:20.1234567Z"):
        # Then the result is botocore's
        assert parse_timestamp(value).isoformat() == botocore.utils.parse_timestamp(value).isoformat()

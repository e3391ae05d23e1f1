"""Entity tags and ``If-Match`` matching of items (RFC 9110; ADR-0033)."""

from __future__ import annotations

import pytest

from app.items.models import Item
from app.items.service import etag, matches


def _at(version: int) -> Item:
    return Item(name="n", version=version)


def test_the_etag_is_the_quoted_version() -> None:
    assert etag(_at(3)) == '"3"'


@pytest.mark.parametrize(
    ("if_match", "expected"),
    [
        ('"3"', True),
        ('"1", "3"', True),
        ('"1" ,"3" ', True),
        ("*", True),
        (" * ", True),
        ('"2"', False),
        ('W/"3"', False),  # weak tags never match If-Match (strong comparison)
        ("3", False),  # unquoted: not an entity tag
        ('"33"', False),
        ("", False),
    ],
)
def test_if_match_compares_strongly(if_match: str, expected: bool) -> None:
    assert matches(if_match, _at(3)) is expected

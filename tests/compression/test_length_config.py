"""Parsing user length configurations."""

from __future__ import annotations

import pytest

from lit_distill.compression.length_config import (
    format_length_config,
    parse_length_config,
    parse_length_configs,
)


def test_parse_ints_and_ratios() -> None:
    assert parse_length_config("[384,320,256]") == [384, 320, 256]
    assert parse_length_config("1.0, 0.8, 0.5") == [1.0, 0.8, 0.5]
    assert parse_length_configs("[4,3];[2,2]", num_layers=2) == [[4, 3], [2, 2]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[3,4]", "must not increase"),
        ("[0]", ">= 1"),
        ("[1.5, 0.5]", r"ratios must be in \(0, 1\]"),
        ("[a]", "cannot read"),
        ("[]", "empty"),
        ("[4,3,2]", "3 entries but the model has 2 layers"),
    ],
)
def test_bad_configs_name_the_option(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        parse_length_config(text, num_layers=2 if "4,3,2" in text else None)
    assert "--length-config" in str(info.value)


def test_format_labels() -> None:
    assert format_length_config(None) == "full"
    assert format_length_config([384, 320]) == "384-320"
    assert format_length_config([1.0, 0.75]) == "1-0.75"

"""Byte sizes as the runner's options take them and its messages write them."""

import pytest

from compose_models.errors import UserError
from compose_models.units import format_bytes, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("8GiB", 8 * 1024**3), ("512MiB", 512 * 1024**2), ("2GB", 2_000_000_000), ("1.5g", 1_500_000_000), ("1024", 1024)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_bad_size_is_refused_with_examples() -> None:
    with pytest.raises(UserError, match="8GiB"):
        parse_size("lots")


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536 * 1024**2) == "1.5 GiB"

"""JSON nested past what json parses, from an engine or a registry, is treated as malformed, not raised."""

import pytest

from compose_models.errors import UserError
from compose_models.runner.http.streams import SseFrame
from compose_models.runner.observability.token_count import TokenCount
from compose_models.store.pull import fetch_model_manifest
from compose_models.store.reference import parse_reference

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deep_engine_frame_is_not_json_to_the_relay_and_the_token_count() -> None:
    frame = SseFrame(f"data: {DEEP}\n\n".encode(), DEEP)
    assert frame.payload is None
    counter = TokenCount()
    counter.expect("text/event-stream")
    counter.feed(frame.raw)
    assert counter.completion_tokens == 0


def test_a_deep_manifest_is_a_clear_error() -> None:
    class DeepRegistry:  # stands in for a hostile registry's manifest answer
        def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
            return DEEP.encode(), "application/vnd.oci.image.manifest.v1+json"

    with pytest.raises(UserError, match="is not a JSON object"):
        fetch_model_manifest(DeepRegistry(), parse_reference("registry.example/models/deep:1"))

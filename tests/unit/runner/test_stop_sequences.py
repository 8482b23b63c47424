from compose_models.runner.inference.stop_sequences import StopSequenceWatch


def feed_all(watch: StopSequenceWatch, pieces: list[str]) -> str:
    return "".join(watch.feed(piece) for piece in pieces)


def test_a_sequence_split_across_pieces_is_never_emitted() -> None:
    watch = StopSequenceWatch(["END"])
    assert feed_all(watch, ["hello E", "N", "D and more"]) == "hello "
    assert watch.matched == "END" and watch.feed("later") == ""


def test_a_false_start_is_released_with_the_next_piece() -> None:
    watch = StopSequenceWatch(["END"])
    assert watch.feed("the E") == "the "
    assert watch.feed("nd") == "End"
    assert watch.matched is None


def test_text_held_at_the_end_is_flushed() -> None:
    watch = StopSequenceWatch(["</x>"])
    assert watch.feed("a </") == "a "
    assert watch.flush() == "</"


def test_the_earliest_sequence_wins() -> None:
    watch = StopSequenceWatch(["b", "ab"])
    assert watch.feed("xxab") == "xx" and watch.matched == "ab"


def test_no_sequences_passes_everything() -> None:
    assert StopSequenceWatch([]).feed("anything") == "anything"

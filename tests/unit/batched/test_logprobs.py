"""Log-probabilities from raw logits."""

import math

import numpy as np

from compose_models.runner.backends.batched.logprobs import token_logprobs


def test_logprobs_are_a_log_softmax_with_the_best_alternatives_first() -> None:
    logits = np.array([1.0, 3.0, 2.0, 0.0], dtype=np.float32)
    chosen, top = token_logprobs(logits, 2, 2)
    normaliser = math.log(sum(math.exp(value) for value in logits))
    assert math.isclose(chosen, 2.0 - normaliser)
    assert [index for index, _ in top] == [1, 2]
    assert math.isclose(top[0][1], 3.0 - normaliser)
    assert token_logprobs(logits, 0, 0)[1] == ()

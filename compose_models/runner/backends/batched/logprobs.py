"""Log-probabilities of a sampled token and of the most likely alternatives, from raw logits."""

import numpy as np
import numpy.typing as npt


def token_logprobs(logits: npt.NDArray[np.float32], token: int, top: int) -> tuple[float, tuple[tuple[int, float], ...]]:
    """The token's log-probability under the model (before sampling settings) and the ``top`` best (id, logprob)."""
    shifted = logits.astype(np.float64) - logits.max()
    logprobs = shifted - np.log(np.exp(shifted).sum())
    best = np.argpartition(-logprobs, top)[:top] if 0 < top < len(logprobs) else np.arange(min(top, len(logprobs)))
    ordered = best[np.argsort(-logprobs[best])]
    return float(logprobs[token]), tuple((int(index), float(logprobs[index])) for index in ordered)

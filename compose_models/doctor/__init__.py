"""``compose-models doctor``: the checks a user runs when a container gets no answer."""

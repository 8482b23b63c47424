"""Inference backends: how each kind of engine process is found, started and described."""

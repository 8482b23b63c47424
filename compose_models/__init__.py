"""compose-models: host-side LLM inference for Docker Compose stacks."""

__version__ = "0.1.0"

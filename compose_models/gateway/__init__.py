"""The gateway: API keys, caller identity, per-caller limits, request log, metrics per caller and a
dashboard, in front of the runner (``serve``) or of any runner (``compose-models gateway``).

``middleware.with_gateway`` puts an ASGI app behind it. Nothing is imported here, so the CLI can read
the settings and the local key without loading the middleware."""

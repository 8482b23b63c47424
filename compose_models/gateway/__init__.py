"""The gateway: API keys, caller identity, per-caller limits, request log, metrics per caller and a
dashboard, in front of the runner (``serve``) or of any runner (``compose-models gateway``).

``middleware.Gateway`` is ASGI middleware behind the runner's tap (composed in ``compose_models.server``). Nothing is imported here, so the CLI can read
the settings and the local key without loading the middleware."""

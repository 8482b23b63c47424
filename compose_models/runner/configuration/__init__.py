"""The vocabulary of ``configure``: runtime flags and their allow-list, presets. It imports nothing of
the runner, so the commands (cli, orchestrator, integrations) and the runner's scheduler alike may use it."""

"""The one exception type that reaches the user as a message instead of a traceback."""


class UserError(Exception):
    """Bad input or an unmet precondition the user can fix.

    The CLI prints ``str(error)`` on one line to stderr and exits with ``exit_code``.
    Messages name the file, key or field involved and what was expected.
    """

    exit_code: int = 1

"""The exception type that reaches the user as a message instead of a traceback."""


class UserError(Exception):
    """Bad input or an unmet precondition the user can fix.

    Messages name the file, key or field involved and what was expected. What the user then sees is
    decided where the error ends: the CLI prints ``str(error)`` on one line to stderr and exits with
    the code ``cli/exit_codes.py`` gives the error's type; the runner answers with the status its table
    gives it (``runner/errors.py``). The error itself carries neither.
    """

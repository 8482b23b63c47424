"""The one place errors become exit codes: the store and the runner raise errors without any, and every
command ends here (``cli/__init__.py:main`` and the docker-model plugin's ``configure``)."""

import sys
from typing import NoReturn

from compose_models.errors import UserError

# By the error's type, the most specific first found along its class hierarchy; every one is 1 today.
EXIT_CODES: dict[type[BaseException], int] = {UserError: 1}
DEFAULT_EXIT_CODE = 1


def exit_code(error: BaseException) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return DEFAULT_EXIT_CODE


def exit_with(error: UserError) -> NoReturn:
    """Report ``error`` on one line to stderr, as every command does, and exit with its code."""
    print(f"compose-models: error: {error}", file=sys.stderr)
    sys.exit(exit_code(error))

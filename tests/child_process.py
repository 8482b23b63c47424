"""``@in_child_process``: a test's body runs in a forked child, so a native crash fails that test only.

llama.cpp called in-process (the batched engine's decoder, llama-cpp-python's tokenizer) can die of a
signal on a CPU its build does not suit; in pytest's own process that ends the whole run without a
summary. Fixtures are set up and torn down in pytest's process as usual; only the test function runs
in the child, and its failure, skip or fatal signal is reported back as the test's outcome.
"""

import functools
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pytest

from compose_models.runner.backends.process import exit_description

_PASSED = ("passed", "")


def in_child_process(test: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_run_and_report, args=(sender, test, args, kwargs), name=test.__name__)
        child.start()
        sender.close()
        try:
            try:
                outcome, detail = receiver.recv()
            except EOFError:  # it died before it could report
                outcome, detail = "died", ""
            child.join()
        finally:
            if child.is_alive():  # pytest-timeout or ^C interrupted the wait
                child.kill()
                child.join()
            receiver.close()
        if outcome == "skipped":
            pytest.skip(detail)
        if outcome == "failed":
            pytest.fail(f"in the test's child process:\n{detail}", pytrace=False)
        if outcome != "passed" or child.exitcode != 0:
            pytest.fail(f"the test's child process died: {exit_description(child.exitcode)}", pytrace=False)

    return run


def _run_and_report(sender: Connection, test: Callable[..., None], args: tuple, kwargs: dict[str, Any]) -> None:
    try:
        test(*args, **kwargs)
        sender.send(_PASSED)
    except pytest.skip.Exception as skipped:
        sender.send(("skipped", str(skipped)))
    except BaseException:
        sender.send(("failed", traceback.format_exc()))
    finally:
        sender.close()

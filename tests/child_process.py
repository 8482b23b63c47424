"""``@in_child_process``: a test's body runs in a child process, so a native crash fails that test only.

llama.cpp called in-process (the batched engine's decoder, llama-cpp-python's tokenizer) can die of a
signal on a CPU its build does not suit; in pytest's own process that ends the whole run without a
summary. Fixtures are set up and torn down in pytest's process as usual; only the test function runs
in the child, and its failure, skip or fatal signal is reported back as the test's outcome.

The child is spawned (a fresh interpreter that imports the test's module), never forked: ``fork``
without ``exec`` is unsafe on macOS once Objective-C or Metal is loaded, and Linux spawns too so
that CI runs what a Mac runs. So the fixtures' values must pickle, and what a fixture patches in
pytest's process (``monkeypatch.setattr``) is not seen by the child; the environment is. The child
imports the test's module with pytest's assertion rewriting, so a failed ``assert`` still shows its values.
"""

import ast
import functools
import importlib
import importlib.util
import multiprocessing
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.assertion.rewrite import rewrite_asserts

from compose_models.runner.backends.process import exit_description

_PASSED = ("passed", "")


def in_child_process(test: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        where = (test.__module__, test.__qualname__)  # the child finds the test by name: functions do not pickle
        child = context.Process(target=_run_and_report, args=(sender, where, args, kwargs), name=test.__name__)
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


def _run_and_report(sender: Connection, where: tuple[str, str], args: tuple, kwargs: dict[str, Any]) -> None:
    try:
        module, qualified_name = where
        found: Any = _import_rewritten(module)
        for name in qualified_name.split("."):
            found = getattr(found, name)
        test = found.__wrapped__  # the module holds the decorated test, which would spawn again
        test(*args, **kwargs)
        sender.send(_PASSED)
    except pytest.skip.Exception as skipped:
        sender.send(("skipped", str(skipped)))
    except BaseException:
        sender.send(("failed", traceback.format_exc()))
    finally:
        sender.close()


def _import_rewritten(name: str) -> ModuleType:
    """The test's module, imported as pytest imports it: its asserts rewritten to explain themselves."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return importlib.import_module(name)
    source = Path(spec.origin).read_bytes()
    tree = ast.parse(source, filename=spec.origin)
    rewrite_asserts(tree, source, spec.origin)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(tree, spec.origin, "exec", dont_inherit=True), module.__dict__)
    return module

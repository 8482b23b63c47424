"""A JSON document the scheduler keeps across runner restarts (configurations, pinned projects).

Written atomically (a temporary file in the same folder, then ``os.replace``), so a crash mid-write leaves
the previous document. Read with a size bound; a document that cannot be read or parsed is moved aside to
``<name>.bak``, said in the runner's log, and the runner starts as if there were none: never a crash.
"""

import json
import os
from pathlib import Path
from typing import Any

from compose_models.atomic_file import replace_file
from compose_models.log import say

MAX_BYTES = 1 << 20  # 1 MiB: thousands of configurations; anything larger was not written by us


def read_document(path: Path) -> dict[str, Any]:
    """The document at ``path``; {} when there is none, or when it is corrupt (then kept as ``.bak``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        say(f"could not read {path} ({error}); starting with defaults")
        return {}
    problem = None
    if len(data) > MAX_BYTES:
        problem = f"larger than {MAX_BYTES} bytes"
    else:
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            problem = f"not valid JSON ({error})"
        else:
            if isinstance(document, dict):
                return document
            problem = "not a JSON object"
    backup = path.with_name(path.name + ".bak")
    try:
        os.replace(path, backup)
        kept = f"kept as {backup}"
    except OSError as error:
        kept = f"could not be moved aside ({error})"
    say(f"{path} is {problem}: starting with defaults; the file {kept}")
    return {}


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Replace the document at ``path`` at once; a failure is said in the log, never raised."""
    data = json.dumps(document, indent=1, sort_keys=True).encode()
    if len(data) > MAX_BYTES:
        say(f"not saving {path}: {len(data)} bytes is more than {MAX_BYTES}")
        return
    try:
        replace_file(path, data, 0o600)  # the user's own, as the rest of the runner's state
    except OSError as error:
        say(f"could not save {path} ({error}); the change holds until the runner stops")

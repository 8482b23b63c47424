"""Stand-in for a Mac whose Rancher Desktop runs containerd (no Mac here): what Rancher Desktop writes there
(its settings file, ``~/.rd/bin/nerdctl``) and the Docker context ``rancher-desktop``, made current, whose
socket ``~/.rd/docker.sock`` is absent, as it is when the dockerd (moby) engine is not the one running."""

import hashlib
import json
from pathlib import Path


def plant_rancher_desktop_on_containerd(home: Path, docker_config: Path) -> None:
    settings = home / "Library/Preferences/rancher-desktop/settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"version": 10, "containerEngine": {"name": "containerd"}}))
    (home / ".rd/bin").mkdir(parents=True)
    (home / ".rd/bin/nerdctl").write_text("#!/bin/sh\n")
    meta = docker_config / "contexts/meta" / hashlib.sha256(b"rancher-desktop").hexdigest() / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": "rancher-desktop", "Metadata": {},
                                "Endpoints": {"docker": {"Host": f"unix://{home}/.rd/docker.sock"}}}))  # fmt: skip
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "rancher-desktop"}))

"""The GPUs llama.cpp lists (``llama-server --list-devices``), read in one place for every caller.

ggml prints one line per device that is not the CPU::

    Available devices:
      MTL0: Apple M2 (10922 MiB, 10922 MiB free)
      CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23668 MiB free)

Current ggml names the Metal device ``MTL0`` (older builds said ``Metal``); for Metal the first figure
is ``recommendedMaxWorkingSetSize``, the most the GPU may hold (about two thirds of RAM on Macs of
32 GB or less, raised by ``sysctl iogpu.wired_limit_mb``).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

MIB = 1024 * 1024

# ggml's device name prefixes and the accelerator each means here.
_KINDS = {"mtl": "metal", "metal": "metal", "cuda": "cuda", "rocm": "rocm", "vulkan": "vulkan"}
_LINE = re.compile(
    r"^\s*(?P<name>(?P<kind>MTL|Metal|CUDA|ROCm|Vulkan)\d*)\b:?\s*(?P<description>.*?)"
    r"(?:\s*\((?P<total>\d+) MiB(?:,\s*(?P<free>\d+) MiB free)?\))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Device:
    name: str  # as ggml names it: MTL0, CUDA0...
    accelerator: str  # metal, cuda, rocm or vulkan
    description: str
    total: int | None  # bytes; for Metal, its recommended working set
    free: int | None


def parse_devices(listing: str) -> list[Device]:
    """Every GPU device in ``listing`` (the output of ``--list-devices``), in its order."""
    found = []
    for line in listing.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        total, free = match["total"], match["free"]
        found.append(Device(
            match["name"], _KINDS[match["kind"].lower()], match["description"],
            int(total) * MIB if total else None, int(free) * MIB if free else None,
        ))  # fmt: skip
    return found


def accelerator(devices: Sequence[Device]) -> str | None:
    """The accelerator of the first GPU listed; None when only the CPU is."""
    return devices[0].accelerator if devices else None


def metal_working_set(devices: Sequence[Device]) -> int | None:
    """Metal's recommended working set in bytes, when a Metal device is listed with its figures."""
    return next((device.total for device in devices if device.accelerator == "metal" and device.total), None)

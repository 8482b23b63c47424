"""Human-readable numbers in the exact spellings Docker Model Runner and the docker CLI use."""

_BINARY_AND_DECIMAL_BYTES = (
    (1 << 50, "Pi"), (1e15, "P"), (1 << 40, "Ti"), (1e12, "T"), (1 << 30, "Gi"), (1e9, "G"),
    (1 << 20, "Mi"), (1e6, "M"), (1 << 10, "Ki"), (1e3, "K"),
)  # fmt: skip
_COUNTS = ((1e15, "Q"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def gguf_size(num_bytes: int) -> str:
    """gguf-parser's ``GGUFBytesScalar`` without the space, as DMR stores it: ``"92.10MiB"``."""
    if num_bytes == 0:
        return "0B"
    return _scaled(num_bytes, _BINARY_AND_DECIMAL_BYTES) + "B"


def gguf_parameters(count: int) -> str:
    """gguf-parser's ``GGUFParametersScalar`` without the space: ``"134.52M"``."""
    if count == 0:
        return "0"
    return _scaled(count, _COUNTS)


def _scaled(value: int, units: tuple[tuple[float, str], ...]) -> str:
    base, unit = 1.0, ""
    for candidate_base, candidate_unit in units:
        if value >= candidate_base:
            base, unit = float(candidate_base), candidate_unit
            break
    return f"{value / base:.2f}".removesuffix(".00") + unit


def human_size(num_bytes: float) -> str:
    """go-units ``HumanSize`` (decimal units, 4 significant digits): ``"98.36MB"``."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    index = 0
    while num_bytes >= 1000 and index < len(units) - 1:
        num_bytes /= 1000
        index += 1
    return f"{num_bytes:.4g}{units[index]}"


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``"2 minutes"``, ``"About an hour"``, ``"3 days"``."""
    if seconds < 1:
        return "Less than a second"
    if round(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(hours / 24 / 365)} years"

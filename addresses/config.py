"""Engine configuration: how much each source is trusted, how fast its word ages, thresholds.

Read from a TOML file with this shape (every key optional; defaults below):

    [sources.customer_updated]
    weight = 0.9            # 0..1: how far one observation from this source is trusted
    half_life_days = 365    # an observation counts half as much after this many days

    [choice]
    select_threshold = 0.45 # the best candidate needs at least this confidence...
    min_margin = 0.15       # ...and this lead over the runner-up, or the debtor goes to review
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SOURCES: dict[str, tuple[float, float]] = {
    "customer_updated": (0.9, 365.0),
    "change_of_address": (0.85, 365.0),
    "internal": (0.7, 730.0),
    "third_party": (0.5, 180.0),
    "returned_mail": (0.5, 365.0),
}
UNKNOWN_SOURCE = (0.4, 180.0)


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class SourceTrust:
    """How far one source is trusted and how fast its observations age."""

    weight: float
    half_life_days: float


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine can be told."""

    sources: dict[str, SourceTrust] = field(
        default_factory=lambda: {k: SourceTrust(*v) for k, v in DEFAULT_SOURCES.items()}
    )
    select_threshold: float = 0.45
    min_margin: float = 0.15

    def trust(self, source: str) -> SourceTrust:
        """The trust of a source; an unknown source gets a cautious default."""
        return self.sources.get(source) or SourceTrust(*UNKNOWN_SOURCE)


def _number(table: dict[str, Any], key: str, default: float, where: str, high: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= high:
        raise ConfigError(f"{where}: {key}: must be a number from 0 to {high:g}")
    return float(value)


def parse_config(data: dict[str, Any], where: str) -> EngineConfig:
    """Build an `EngineConfig` from parsed TOML, over the defaults."""
    base = EngineConfig()
    sources = dict(base.sources)
    for name, table in (data.get("sources") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: sources.{name}: must be a table")
        default = sources.get(name) or SourceTrust(*UNKNOWN_SOURCE)
        sources[name] = SourceTrust(
            _number(table, "weight", default.weight, f"{where}: sources.{name}", 1.0),
            _number(
                table, "half_life_days", default.half_life_days, f"{where}: sources.{name}", 1e6
            ),
        )
    choice = data.get("choice") or {}
    return EngineConfig(
        sources=sources,
        select_threshold=_number(choice, "select_threshold", base.select_threshold, where, 1.0),
        min_margin=_number(choice, "min_margin", base.min_margin, where, 1.0),
    )


def load_config(config_path: Path | None) -> EngineConfig:
    """Load the engine configuration from TOML, or the defaults when `config_path` is None."""
    if config_path is None:
        return EngineConfig()
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config_path.name}: cannot read address configuration: {exc}") from None
    return parse_config(data, config_path.name)

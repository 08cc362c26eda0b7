"""Engine configuration: how much each source is trusted, how fast its word ages, thresholds.

Read from a TOML file with this shape (every key optional; defaults below):

    [sources.customer_updated]
    weight = 0.9            # 0..1: how far one observation from this source is trusted
    half_life_days = 365    # an observation counts half as much after this many days
    match = ["customer_updated*.csv"]  # file names (globs) whose rows, without a `source`
                                       # column, come from this source

    [choice]
    select_threshold = 0.45 # the best candidate needs at least this confidence...
    min_margin = 0.15       # ...and this lead over the runner-up, or the debtor goes to review
    after_return = "select" # "select" a fresh sole report after returned mail, or "review" it

Each default file source matches its own `NAME*.csv`; `reviewer` (a person's decision, fed from
the state) matches no file.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

DEFAULT_SOURCES: dict[str, tuple[float, float]] = {
    "customer_updated": (0.9, 365.0),
    "change_of_address": (0.85, 365.0),
    "internal": (0.7, 730.0),
    "third_party": (0.5, 180.0),
    "returned_mail": (0.5, 365.0),
    # a person who looked at the candidates and chose or corrected one (see `addresses.score`)
    "reviewer": (0.95, 1825.0),
}
FILE_SOURCES = frozenset(DEFAULT_SOURCES) - {"reviewer"}  # each matches `NAME*.csv` by default
UNKNOWN_SOURCE = (0.4, 180.0)
AFTER_RETURN = ("select", "review")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class SourceTrust:
    """How far one source is trusted and how fast its observations age."""

    weight: float
    half_life_days: float
    match: tuple[str, ...] = ()  # file-name globs whose rows come from this source


def _default_sources() -> dict[str, SourceTrust]:
    return {
        name: SourceTrust(*values, match=(f"{name}*.csv",) if name in FILE_SOURCES else ())
        for name, values in DEFAULT_SOURCES.items()
    }


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine can be told."""

    sources: dict[str, SourceTrust] = field(default_factory=_default_sources)
    select_threshold: float = 0.45
    min_margin: float = 0.15
    after_return: str = "select"  # or "review": see `addresses.score.choose`

    def trust(self, source: str) -> SourceTrust:
        """The trust of a source; an unknown source gets a cautious default."""
        return self.sources.get(source) or SourceTrust(*UNKNOWN_SOURCE)

    def source_for_file(self, file_name: str) -> str:
        """The source of a file's rows that have no `source` column.

        The file name's stem when it names a configured source; else the source whose `match`
        glob fits the name (case-insensitive; the longest pattern wins); else the stem itself,
        an unknown source.
        """
        stem = PurePath(file_name).stem
        if stem in self.sources:
            return stem
        fits = [
            (len(pattern), name)
            for name, trust in self.sources.items()
            for pattern in trust.match
            if fnmatch.fnmatchcase(file_name.lower(), pattern.lower())
        ]
        return max(fits)[1] if fits else stem


def _number(table: dict[str, Any], key: str, default: float, where: str, high: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= high:
        raise ConfigError(f"{where}: {key}: must be a number from 0 to {high:g}")
    return float(value)


def _globs(table: dict[str, Any], default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = table.get("match", default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: match: must be a list of file-name patterns")
    return tuple(value)


def _after_return(choice: dict[str, Any], where: str) -> str:
    value = choice.get("after_return", "select")
    if value not in AFTER_RETURN:
        raise ConfigError(f'{where}: after_return: must be "select" or "review"')
    return str(value)


def parse_config(data: dict[str, Any], where: str) -> EngineConfig:
    """Build an `EngineConfig` from parsed TOML, over the defaults."""
    base = EngineConfig()
    sources = dict(base.sources)
    for name, table in (data.get("sources") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: sources.{name}: must be a table")
        default = sources.get(name) or SourceTrust(*UNKNOWN_SOURCE)
        at = f"{where}: sources.{name}"
        sources[name] = SourceTrust(
            _number(table, "weight", default.weight, at, 1.0),
            _number(table, "half_life_days", default.half_life_days, at, 1e6),
            _globs(table, default.match, at),
        )
    choice = data.get("choice") or {}
    return EngineConfig(
        sources=sources,
        select_threshold=_number(choice, "select_threshold", base.select_threshold, where, 1.0),
        min_margin=_number(choice, "min_margin", base.min_margin, where, 1.0),
        after_return=_after_return(choice, where),
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

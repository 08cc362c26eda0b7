"""`letters init`: a working folder a new team can start from in minutes."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from letters.errors import UsageError
from letters.fsutil import make_private_dir, write_text_atomic
from letters.intake.policy import default_policy_text
from letters.render.renderer import default_templates_dir

ADDRESS_CONFIG = """\
# Address engine configuration: how far each source is trusted and how fast its word ages.
# Pass it with `letters run ... --address-config address-config.toml`. Every key is optional.

[sources.customer_updated]   # what the customer entered in the app
weight = 0.9                 # 0..1: trust in one observation from this source
half_life_days = 365         # an observation counts half as much after this many days

[sources.change_of_address]
weight = 0.85
half_life_days = 365

[sources.internal]           # the lender's own records
weight = 0.7
half_life_days = 730

[sources.third_party]
weight = 0.5
half_life_days = 180
# any other source name: weight 0.4, half-life 180 days

[choice]
select_threshold = 0.45      # the best address needs at least this confidence...
min_margin = 0.15            # ...and this lead over the next one, or the debtor goes to review
"""

CRONTAB_HEADER = """\
# Nightly letters at 02:15; install with `crontab crontab.txt` (it replaces your crontab; merge by
# hand if you have one). Cron runs each entry as one line (a trailing backslash does not join
# lines) with a minimal PATH, so the command and every file are given by absolute path.
# Exit codes: 0 done, 1 fatal, 2 usage, 3 done with rejected rows, 4 another run holds the lock,
# 5 interrupted (the next run resumes it).
"""
SOURCES = ("internal", "customer_updated", "third_party", "returned_mail")


def crontab_text(work_dir: Path, letters_command: str) -> str:
    """crontab.txt: one entry, on one line, with absolute paths (see crontab(5))."""
    root = work_dir.resolve()

    def arg(path: Path) -> str:
        return shlex.quote(str(path))

    words = [
        letters_command, "run", arg(root / "input" / "accounts.csv"),
        *(f"--sources {arg(root / 'input' / f'{name}.csv')}" for name in SOURCES),
        f"--out {arg(root / 'batches')}", f"--policy {arg(root / 'policy.toml')}",
        f"--templates {arg(root / 'templates')}",
        f"--address-config {arg(root / 'address-config.toml')}",
        f">> {arg(root / 'batches' / 'cron.log')} 2>&1",
    ]  # fmt: skip
    command = f"cd {arg(root)} && " + " ".join(words)
    # cron turns an unescaped % into a new line; a path may hold one
    return CRONTAB_HEADER + "15 2 * * * " + command.replace("%", "\\%") + "\n"


def init_workspace(work_dir: Path, letters_command: str = "letters") -> list[Path]:
    """Write policy.toml, address-config.toml, templates/ and crontab.txt; never overwrite.

    `letters_command` is how cron is to start letters: the absolute path of the installed
    command (cron's PATH does not hold it)."""
    targets = [
        work_dir / name
        for name in ("policy.toml", "address-config.toml", "templates", "crontab.txt")
    ]
    existing = [path for path in targets if path.exists()]
    if existing:
        names = ", ".join(str(path) for path in existing)
        raise UsageError(f"{work_dir}: already holds {names}; nothing was changed")
    make_private_dir(work_dir)
    make_private_dir(work_dir / "input")
    make_private_dir(work_dir / "batches")  # the crontab line logs into it
    write_text_atomic(targets[0], default_policy_text())
    write_text_atomic(targets[1], ADDRESS_CONFIG)
    shutil.copytree(default_templates_dir(), targets[2])
    write_text_atomic(targets[3], crontab_text(work_dir, letters_command))
    return targets

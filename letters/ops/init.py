"""`letters init`: a working folder a new team can start from in minutes."""

from __future__ import annotations

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

CRONTAB = """\
# Nightly letters at 02:15. Exit codes: 0 done, 1 fatal, 2 usage, 3 done with rejected rows,
# 4 another run holds the lock, 5 interrupted (the next run resumes it).
15 2 * * * cd {work_dir} && letters run input/accounts.csv --sources input/internal.csv \\
  --sources input/customer_updated.csv --sources input/third_party.csv \\
  --sources input/returned_mail.csv --out batches --policy policy.toml \\
  --templates templates --address-config address-config.toml >> batches/cron.log 2>&1
"""


def init_workspace(work_dir: Path) -> list[Path]:
    """Write policy.toml, address-config.toml, templates/ and crontab.txt; never overwrite."""
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
    write_text_atomic(targets[3], CRONTAB.format(work_dir=work_dir.resolve()))
    return targets

"""Whether the tests run under CI: one reading of the CI variable for every test that must not skip there.

CI services set CI to "true" (GitHub, GitLab) or "1"; any of true / 1 / yes, in any case, counts.
"""

from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

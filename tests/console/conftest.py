"""The console's browser tests run only with ``make test-console``, never inside ``make test``.

They need Playwright (tests/console/requirements.txt), Debian's Chromium and axe-core from npm
(tests/console/package.json), which ``make test-console`` installs; ``make test`` has none of them,
so without ``APP_TOKENS_CONSOLE_TESTS=1`` this folder is not collected at all. When it is asked
for, a missing piece fails the run: nothing here is skipped.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("APP_TOKENS_CONSOLE_TESTS") == "1" else ["*.py"]

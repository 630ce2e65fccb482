"""``python -m tally.cli``: the ``tally`` command."""

from tally.cli import main

raise SystemExit(main())

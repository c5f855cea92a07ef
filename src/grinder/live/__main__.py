"""`python -m grinder.live` is `python -m grinder.live.run`."""

from grinder.live.run import main

raise SystemExit(main())

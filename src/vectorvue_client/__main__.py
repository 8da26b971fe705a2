"""`python -m vectorvue_client`: the same as the `vectorvue-client` console script."""

import sys

from vectorvue_client.cli import main

sys.exit(main())

import sys

from devtools.deploy_check.cli import main

sys.exit(main())

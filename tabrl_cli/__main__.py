import sys

from tabrl_cli.main import main

sys.exit(main())

import sys

from pplbot.cli import main

sys.exit(main())

import sys

from layerping.cli import main

sys.exit(main())

import sys

from layerping._entry import main

sys.exit(main())

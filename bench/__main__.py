"""``python -m bench``: every benchmark; ``python -m bench codat ...``: the Codat figure (bench/README.md)."""

import sys

if sys.argv[1:2] == ["codat"]:
    from bench.codat import main as codat_main

    codat_main(sys.argv[2:])
else:
    from bench.run_all import main

    main()

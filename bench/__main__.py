"""``python -m bench``: every benchmark (bench/README.md); ``python -m bench connect|codat``: one figure."""

import sys

if sys.argv[1:2] == ["connect"]:
    from bench.connect import main as connect_main

    connect_main(sys.argv[2:])
elif sys.argv[1:2] == ["codat"]:
    from bench.codat import main as codat_main

    codat_main(sys.argv[2:])
else:
    from bench.run_all import main

    main()

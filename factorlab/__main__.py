from factorlab.cli import main

raise SystemExit(main())

from mneme.cli import main

raise SystemExit(main())

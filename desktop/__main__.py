from desktop.launcher import main

raise SystemExit(main())

from gitops_release.cli import main

raise SystemExit(main())

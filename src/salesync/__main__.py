from salesync.cli.app import main

main()

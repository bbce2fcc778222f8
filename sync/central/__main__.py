from sync.central.cli import main

main()

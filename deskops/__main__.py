from deskops.cli.main import main

main()

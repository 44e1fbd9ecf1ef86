from stockade.cli.app import main

main()

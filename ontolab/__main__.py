from ontolab.cli import main

main()

from compose_models.cli import main

main()

from compose_models.plugin.cli_plugin import main

main()

"""One module per stackctl subcommand: configure(parser) and run(args) -> int (see stackctl.cli)."""

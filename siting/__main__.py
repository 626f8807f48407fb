"""``python -m siting`` runs the command line."""

if __name__ == "__main__":  # not when a spawned worker process imports it as __mp_main__
    from siting.cli import main

    raise SystemExit(main())

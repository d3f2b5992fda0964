"""Front-end commands; each module exposes `main(argv) -> exit code`."""

"""Benchmarks that print tables (``python -m benchmarks.<name>``)."""


def without_option(argv: list, option: str) -> list:
    """``argv`` less ``option`` and its value (``--opt v`` or ``--opt=v``)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(f"{option}="):
            kept.append(arg)
    return kept

"""`python -m fuzzing TARGET [libFuzzer options …]`: one target under atheris, coverage-guided.

    python -m fuzzing envelope -runs=1000000 -max_len=4096
    python -m fuzzing --list

gsomia is instrumented as it is imported; a crash (any exception but the target's documented error)
stops the run and leaves its input as crash-… in the working directory: make it a regression test in
tests/fuzz_regressions/ (a file named TARGET-…, its bytes the input).
"""

from __future__ import annotations

import os
import sys
import tempfile


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    import atheris

    with atheris.instrument_imports(include=["gsomia"]):
        from fuzzing.targets import TARGETS, seeds
    if sys.argv[1] == "--list":
        print("\n".join(TARGETS))
        return
    name = sys.argv[1]
    target = TARGETS[name]
    corpus = tempfile.mkdtemp(prefix=f"gsomia-fuzz-{name}-")
    for n, seed in enumerate(seeds(name)):
        with open(os.path.join(corpus, f"seed-{n}"), "wb") as out:
            out.write(seed)
    atheris.Setup([sys.argv[0], *sys.argv[2:], corpus], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

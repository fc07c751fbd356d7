"""Coverage-guided fuzzing of every parser that takes outside bytes (atheris): `scripts/fuzz`."""

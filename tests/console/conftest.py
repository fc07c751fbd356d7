"""The console's tests share the API tests' KOR node (one per module: building keys is the slow part)."""

from tests.api.conftest import node_and_team  # noqa: F401 - a fixture, found here by name

"""What every HTTP surface of a node puts in front of its application: limits at the edge (limits.py).
Imports nothing of gsomia, so the officials' API, the peer endpoint and the console share it."""

-- One schema per node in the compose rehearsal (deploy/compose.yaml); each node migrates its own.
CREATE SCHEMA IF NOT EXISTS kor AUTHORIZATION gsomia;
CREATE SCHEMA IF NOT EXISTS jpn AUTHORIZATION gsomia;

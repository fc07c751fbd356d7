from gsomia.cli.main import app

app()

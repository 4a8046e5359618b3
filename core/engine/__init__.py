"""The engine process: JSON-lines protocol (protocol.py), job runner (server.py, jobs.py), and a
Python client (client.py). Importing this package is cheap; torch loads only in the process
that runs jobs."""

"""The reference central API ("central-dev"): a stand-in for RestAI's central server.

For integrators and tests: it implements the device-facing contract, keeps what it receives in a
local SQLite file, and can be told at run time to misbehave so the device's sync client meets
real failures.

- `app`: the app factory, wiring the modules below into one Sanic app.
- `ingest`: `POST /api/edge/v1/sessions`, finished sessions from devices.
- `faults`: fault injection (`/_control`).
- `control`: the development endpoints (`/_control`, `/_reset`, `/_stats`, `/_sessions`).
- `store`: its SQLite file.
- `responses`: the error envelope and request-body helpers every module shares.
- `cli`: `restai-edge central-dev` (also `python -m sync.central`).
- `harness`: runs it as a subprocess for tests and benchmarks.
"""

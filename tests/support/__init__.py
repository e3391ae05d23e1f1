"""Helpers shared by the test folders, the benchmark and ``make fuzz`` (one copy each).

``processes``: free ports, uvicorn command lines, waiting for a server, stopping it by
PID. ``repo``: loading a script by path (``.ci/validate_deploy.py``, the example client)
and the Dockerfile's stages. Neither imports ``app``.
"""

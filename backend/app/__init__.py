"""The application package. Entry point: ``uvicorn app.main:app``."""

__version__ = "0.1.0"

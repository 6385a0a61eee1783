"""medcite's HTTP service: FastAPI app (``create_app``), routes per resource, web UI, server entry point."""

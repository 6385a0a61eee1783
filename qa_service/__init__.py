"""medcite question answering: the engine, the CLI and the HTTP service."""

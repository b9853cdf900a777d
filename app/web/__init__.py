"""HTTP entry points: thin routes over the services."""

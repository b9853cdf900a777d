"""In-process fakes of the external services the bridge talks to (real HTTP/gRPC, local only)."""

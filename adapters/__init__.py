"""Ports and backends: protocols, wire formats and storage. Never prints, never decides."""

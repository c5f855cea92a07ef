"""Shared pytest configuration: fixtures every test area can use are registered here."""

pytest_plugins = ["tests.fixtures.redis_server", "tests.fixtures.simulator"]

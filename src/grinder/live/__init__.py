"""The live engine (`python -m grinder.live.run`), `grinder live`, and `grinder demo`."""

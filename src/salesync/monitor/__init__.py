"""The support loop above the engine: tickets, assignment, trackers, notices, replay."""

"""Tests of the pure domain package; a package so the tests can share builders and strategies."""

"""Tests of the mapping rules package; a package so the tests can share strategies."""

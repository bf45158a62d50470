"""End-to-end tests over real HTTP; a package so the tests can share the running world."""

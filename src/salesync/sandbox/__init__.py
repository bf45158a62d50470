"""Protocol-faithful simulations of the providers salesync talks to.

Each sandbox is an ordinary HTTP application: connectors, tests and the demo reach it
over real HTTP, with the provider's authentication, pagination, rate limits, error
shapes and webhook signatures, and with faults that can be injected on demand.
"""

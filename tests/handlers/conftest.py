from tests.customers.conftest import SAMPLES, sampled  # noqa: F401  (the shipped sample customers)

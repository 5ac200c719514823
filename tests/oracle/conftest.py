"""Oracle tier: runs each rule's BAD/GOOD example under the real framework."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "oracle: executes rule examples under the real deep-learning frameworks (slow imports; skipped when missing)",
    )

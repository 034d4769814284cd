"""
Integration test runner: starts the built broker (GREGOR_BIN) and talks to
it with real clients (kcat, confluent_kafka, kafka-python) and raw sockets.

    GREGOR_BIN=build/broker/gregor /usr/bin/python3 tests/integration/run.py [-v] [pattern...]

Patterns select tests by substring of their id (e.g. "bad_input" or
"test_slow_client"). Exits non-zero if anything fails; the last line is
"N passed, N failed".
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main(argv):
    verbosity = 2
    patterns = [a for a in argv if not a.startswith("-")]
    if "-q" in argv:
        verbosity = 1
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if patterns:
        suite = unittest.TestSuite(t for t in iter_tests(suite) if any(p in t.id() for p in patterns))
    t0 = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print("integration suite took %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""
Integration test runner: starts the built broker (GREGOR_BIN) and talks to
it with real clients (kcat, confluent_kafka, kafka-python) and raw sockets.

    GREGOR_BIN=build/broker/gregor /usr/bin/python3 tests/integration/run.py [-v] [pattern...]

Patterns select tests by substring of their id (e.g. "bad_input" or
"test_slow_client"). Exits non-zero if anything fails; the last line is
"N passed, N failed".

GREGOR_TEST_TARGET=kafka runs them against Apache Kafka 4.4.0 instead
(scripts/test-kafka; see broker.py): tests marked Gregor-only are skipped
and counted, with their reasons, before that line.
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


def tally(ids, result):
    """(passed, failed) counted per test method: a method with failing
    subtests counts once; a failed setUpClass/setUpModule fails every test
    it covers; any other class or module error (e.g. tearDownClass, which
    checks the broker's exit) counts as one failure of its own."""
    failed, extra = set(), 0
    bad = result.failures + result.errors + [(t, None) for t in result.unexpectedSuccesses]
    for test, _ in bad:
        if isinstance(test, unittest.case._SubTest):
            failed.add(test.test_case.id())
        elif test.id() in ids:
            failed.add(test.id())
        else:
            desc = str(test)  # "setUpClass (module.Class)"
            scope = desc[desc.find("(") + 1:desc.rfind(")")]
            covered = [i for i in ids if i.startswith(scope + ".")]
            if desc.startswith("setUp") and covered:
                failed.update(covered)
            else:
                extra += 1
    skipped = {t.id() for t, _ in result.skipped}
    passed = sum(1 for i in ids if i not in failed and i not in skipped)
    return passed, len(failed) + extra


def skip_summary(ids, result):
    """({Gregor-only reason: [test ids]}, number of other skipped tests),
    counted per test method, as tally() counts."""
    from broker import GREGOR_ONLY
    reasons = {}
    for test, reason in result.skipped:
        tid = test.test_case.id() if isinstance(test, unittest.case._SubTest) else test.id()
        if tid in ids:
            reasons.setdefault(tid, reason)
    gregor_only, other = {}, 0
    for tid, reason in reasons.items():
        if reason.startswith(GREGOR_ONLY):
            gregor_only.setdefault(reason[len(GREGOR_ONLY):], []).append(tid)
        else:
            other += 1
    return gregor_only, other


def main(argv):
    verbosity = 2
    patterns = [a for a in argv if not a.startswith("-")]
    if "-q" in argv:
        verbosity = 1
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if patterns:
        suite = unittest.TestSuite(t for t in iter_tests(suite) if any(p in t.id() for p in patterns))
    ids = [t.id() for t in iter_tests(suite)]  # the suite forgets its tests as they run
    t0 = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity).run(suite)
    passed, failed = tally(ids, result)
    gregor_only, other_skips = skip_summary(set(ids), result)
    print("integration suite took %.1f s" % (time.monotonic() - t0))
    from broker import target
    if target() != "gregor" or gregor_only:
        print("target: %s" % target())
        for reason, tests in sorted(gregor_only.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print("  %3d Gregor-only: %s" % (len(tests), reason))
            if verbosity > 1:
                for tid in sorted(tests):
                    print("        %s" % tid)
        print("%d skipped as Gregor-only, %d skipped otherwise"
              % (sum(len(t) for t in gregor_only.values()), other_skips))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Run the chronofs end-to-end tests: python3 tests/e2e/run.py [FILTER...]

Each FILTER keeps the tests whose id (module.Class.test_name) contains it.
The last line printed is `e2e: N passed, M failed` (`, K skipped` appended
when tests were skipped); the exit status is 1 if any test failed or errored.
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class TimedResult(unittest.TextTestResult):
    """Records how long each test took, to print the slowest ones."""

    durations = []

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        self.durations.append((time.monotonic() - self._started, test.id()))
        super().stopTest(test)


def main(argv):
    filters = [a for a in argv if not a.startswith("-")]
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    tests = list(flatten(loader.discover(start_dir=HERE, pattern="test_*.py", top_level_dir=HERE)))
    if filters:
        tests = [t for t in tests if any(f in t.id() for f in filters)]
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=TimedResult)
    start = time.monotonic()
    result = runner.run(unittest.TestSuite(tests))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - len(result.failures) - len(result.unexpectedSuccesses) - skipped
    passed -= len([t for t, _ in result.errors if t in tests])  # errors outside a test don't count as run
    if not tests:
        print("no test matched %s" % " ".join(filters))
        failed = max(failed, 1)
    sys.stderr.flush()
    sys.stdout.flush()
    slowest = sorted(TimedResult.durations, reverse=True)[:5]
    print("slowest: " + ", ".join("%s %.1fs" % (name.split(".", 1)[1], d) for d, name in slowest))
    print("(%.1f s)" % (time.monotonic() - start))
    line = "e2e: %d passed, %d failed" % (max(passed, 0), failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

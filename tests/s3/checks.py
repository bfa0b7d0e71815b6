"""The checks of the S3 client suites: each prints PASS or FAIL with what differed and the suite
goes on; `summary` prints the counts and gives the exit status."""

passed = failed = 0


def check(name, function):
    global passed, failed
    try:
        function()
        passed += 1
        print(f"PASS {name}")
    except Exception as error:  # a failed check names what differed and goes on
        failed += 1
        print(f"FAIL {name}: {type(error).__name__}: {error}")


def expect(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def summary():
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

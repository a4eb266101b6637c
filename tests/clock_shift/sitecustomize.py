"""Started by Python in every process the test suite starts while it runs on a shifted
clock (`XQUANT_TEST_NOW`, see tests/conftest.py): the child keeps the suite's offset from
the real clock, so a trader or a second paper process agrees with the tests on the time."""

import os

_offset = os.environ.get("XQUANT_TEST_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()

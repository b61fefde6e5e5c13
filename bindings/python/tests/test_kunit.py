# SPDX-License-Identifier: LGPL-2.1-or-later
"""uml.kunit: KTAP parsing as kunit.py does, JSON and JUnit, and a run on the
KUnit kernel tests/test-kunit builds into the test cache (skipped when it
has not been built yet)."""
import glob
import json
import os
import xml.etree.ElementTree as ET

import pytest

import uml
from uml import kunit

CACHE = os.environ.get('UML_TEST_CACHE', '/var/cache/libuml-test')
NESTED = b"""[    1.000000] KTAP version 1
[    1.000000] 1..2
[    1.000000]     KTAP version 1
[    1.000000]     # Subtest: suite_a
[    1.000000]     # module: a
[    1.000000]     1..2
[    1.100000]     ok 1 case_one
[    1.300000]     not ok 2 case_two
[    1.300000]         # case_two: EXPECTATION FAILED
[    1.300000] not ok 1 suite_a
[    1.300000]     # Subtest: suite_b
[    1.300000]     1..3
[    1.400000]     ok 1 - case_skip # SKIP not here
"""


def test_parse_tree_counts_and_statuses():
    res = kunit.parse(NESTED)
    assert res.status == kunit.Status.CRASHED
    a, b = res.root.subtests
    assert (a.name, a.status, a.expected) == ('suite_a', kunit.Status.FAIL, 2)
    assert [c.status for c in a.subtests] == [kunit.Status.PASS, kunit.Status.FAIL]
    # kunit.py keeps the lines as they came, and those after a case's result
    # line for the suite
    assert a.log == ['    # module: a', '        # case_two: EXPECTATION FAILED']
    assert abs(a.subtests[0].duration - 0.1) < 1e-9
    # suite_b promised 3 and gave 1: two crashed placeholders, as kunit.py has
    assert [c.name for c in b.subtests] == ['case_skip', '', '']
    assert res.counts == kunit.Counts(passed=1, failed=1, crashed=2, skipped=1, errors=3)
    assert dict(res.root.walk())['suite_b.case_skip'].status == kunit.Status.SKIP
    assert kunit.Status.CRASHED.json_name == 'ERROR'


def test_parser_events_in_pieces():
    seen = []
    p = kunit.Parser(on_event=seen.append)
    for i in range(0, len(NESTED), 5):
        p.feed(NESTED[i:i + 5])
    p.finish()
    kinds = [e.type for e in seen]
    assert kinds.count('line') == 13
    assert ('suite_start', 'suite_a', 1) in [(e.type, e.name, e.depth) for e in seen]
    assert any(e.type == 'error' and 'missing expected subtest' in e.text for e in seen)
    with pytest.raises(OSError):
        p.feed(b'more')


def test_event_callback_exception_is_raised():
    def boom(ev):
        raise KeyError('from the callback')
    p = kunit.Parser(on_event=boom)
    with pytest.raises(KeyError):
        p.feed(NESTED)


def test_json_round_trip_and_junit():
    res = kunit.parse(NESTED)
    text = res.json(arch='um')
    data = json.loads(text)
    assert data['name'] == 'KUnit Test Group' and data['arch'] == 'um'
    back = kunit.Result.from_json(text)
    assert back.json(arch='um') == text
    assert back.status == res.status
    with pytest.raises(OSError):
        kunit.Result.from_json('{"name": ')
    root = ET.fromstring(res.junit('mine'))
    assert root.get('name') == 'mine'
    assert int(root.get('tests')) == len(root.findall('.//testcase')) == 5
    assert int(root.get('errors')) == 2 and int(root.get('failures')) == 1


def test_no_ktap():
    res = kunit.parse(b'Linux version 6.12\nKernel panic - not syncing: no\n')
    assert res.status == kunit.Status.NO_KTAP and not res.status.ok
    assert res.root.name == '<missing>' and res.counts.errors == 1


def test_kunit_py_test_data_verdicts():
    dirs = glob.glob(os.path.join(CACHE, 'kunit-tools-*/linux/tools/testing/kunit/test_data'))
    if not dirs:
        pytest.skip('tools/testing/kunit not extracted yet (tests/test-ktap does it)')
    with open(os.path.join(dirs[0], 'test_is_test_passed-missing_plan.log'), 'rb') as f:
        res = kunit.parse(f.read())
    assert res.status == kunit.Status.PASS
    assert res.counts == kunit.Counts(passed=10, failed=0, crashed=0, skipped=0, errors=0)


def test_kernel_build_source_tree(tmp_path):
    tree = tmp_path / 'tree'
    with pytest.raises(FileNotFoundError):
        uml.KernelBuild(str(tree)).source_tree


def test_runner_settings_are_checked(tmp_path):
    k = kunit.KUnit(source=str(tmp_path), cache_dir=str(tmp_path))
    with pytest.raises(OSError):
        k.run('has space')
    with pytest.raises(FileNotFoundError):
        k.list()
    with pytest.raises(OSError):
        kunit.KUnit(kconfig_add=['NOT_AN_OPTION'])


def test_run_on_the_cached_kernel(tmp_path):
    linux = os.path.join(CACHE, 'kunit-default', 'linux')
    if not os.access(linux, os.X_OK):
        pytest.skip('no KUnit kernel in the test cache yet (tests/test-kunit builds it)')
    k = kunit.KUnit(kernel=linux, cache_dir=str(tmp_path))
    names = k.list('example*')
    assert 'example.example_simple_test' in names
    res = k.run('example*', parallel=2, timeout=120)
    assert res.status.ok
    assert {n for n, _ in res.root.walk()} >= {'example.example_simple_test'}
    assert all(glob_ for glob_, _ in k.shards)
    again = k.run('example*', rerun=res)
    assert again.counts.total == 0 and again.status == kunit.Status.NO_TESTS

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run kunit.py exec once per suite of a results file and compare verdicts.

    kunit-py-by-suite.py KUNIT_PY BUILD_DIR OURS.json [CRASHING_SUITE...]

kunit.py --run_isolated keeps only the last suite's JSON, so each suite gets
its own kunit.py exec here.  Every test of every suite must have the same
status in both; in a CRASHING_SUITE kunit.py loses the tests after the
crash, so there only the tests kunit.py reports as finished are compared,
and the suite must crash in kunit.py too.
"""
import json
import os
import subprocess
import sys
import tempfile


def flat(group, prefix=''):
    out = {prefix + c['name']: c['status'] for c in group['test_cases']}
    for sub in group['sub_groups']:
        out.update(flat(sub, prefix + sub['name'] + '.'))
    return out


def main():
    kunit_py, build_dir, ours_path = sys.argv[1:4]
    crashing = set(sys.argv[4:])
    ours = json.load(open(ours_path))
    suites = [g['name'] for g in ours['sub_groups']] + [c['name'] for c in ours['test_cases']]
    mine = flat(ours)
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        for suite in suites:
            out = os.path.join(tmp, suite + '.json')
            subprocess.run(['/usr/bin/python3', kunit_py, 'exec', '--build_dir=' + build_dir,
                            '--json=' + out, suite], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            theirs = flat(json.load(open(out)))
            for name, status in theirs.items():
                if suite in crashing and status == 'ERROR':
                    continue
                if mine.get(name) != status:
                    bad.append((name, mine.get(name), status))
            if suite in crashing:
                if 'ERROR' not in theirs.values():
                    bad.append((suite, 'crashed here', 'not crashed in kunit.py'))
                continue
            for name in mine:
                if (name == suite or name.startswith(suite + '.')) and name not in theirs:
                    bad.append((name, mine[name], None))
    for b in bad:
        print('differs: %s ours=%s kunit.py=%s' % b)
    print('%d suites compared, %d differences' % (len(suites), len(bad)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())

# SPDX-License-Identifier: LGPL-2.1-or-later
"""KUnit on libuml: KTAP results and the parallel KUnit runner.

Parse a kernel log as kunit.py does::

    from uml import kunit
    res = kunit.parse(open('test.log', 'rb').read())
    print(res.status, res.counts)            # Status.PASS Counts(passed=10, ...)
    for suite in res.root.subtests:
        print(suite.name, suite.status, [c.name for c in suite.subtests])
    open('r.json', 'w').write(res.json())    # kunit.py's --json shape

Build and run tests in parallel guests::

    k = kunit.KUnit(source='/usr/src/linux-source-6.12.tar.xz',
                    kunitconfig=['lib/kunit'], build_dir='/tmp/kb')
    k.build()
    res = k.run(filter_glob='kunit*', parallel=2)
    res.junit()                              # JUnit XML text

A crashed or timed-out guest costs only the test that was running (see
``uml_kunit_run()``); a failing test is a result, not an exception.
Failures of the calls themselves raise ``OSError`` subclasses with
libuml's message, as everywhere in :mod:`uml`.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Iterable, List, NamedTuple, Optional

from . import Context, Kernel, PathLike, _Object, _path, _str
from ._libuml import ffi, lib

__all__ = ['Status', 'Counts', 'Test', 'Result', 'Parser', 'KtapEvent', 'KUnit', 'parse']


class Status(enum.IntEnum):
    """The status of a test (``enum uml_ktap_status``), as kunit.py has them."""
    PASS = lib.UML_KTAP_PASS          #: "ok"
    FAIL = lib.UML_KTAP_FAIL          #: "not ok"
    SKIP = lib.UML_KTAP_SKIP          #: "# SKIP"
    CRASHED = lib.UML_KTAP_CRASHED    #: never finished (JSON "ERROR")
    NO_TESTS = lib.UML_KTAP_NO_TESTS  #: a header but no subtests
    NO_KTAP = lib.UML_KTAP_NO_KTAP    #: the input held no KTAP at all

    @property
    def json_name(self) -> str:
        """The name kunit.py's JSON uses ("PASS", "FAIL", "SKIP", "ERROR")."""
        return _str(lib.uml_ktap_status_to_string(int(self))) or ''

    @property
    def ok(self) -> bool:
        """Passed or skipped: what exits 0."""
        return self in (Status.PASS, Status.SKIP)


class Counts(NamedTuple):
    """Test cases at and below a test, and kunit.py's parse errors."""
    passed: int
    failed: int
    crashed: int
    skipped: int
    errors: int

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.crashed + self.skipped


class Test(NamedTuple):
    """One test of a result tree (a copy: it lives on its own)."""
    name: str
    status: Status
    counts: Counts
    expected: Optional[int]       #: what the plan ("1..N") promised, None without one
    log: List[str]                #: diagnostics and kernel output while it ran
    duration: Optional[float]     #: seconds, None when unknown
    reason: Optional[str]         #: why it crashed, when the runner knows
    subtests: List['Test']

    def find(self, name: str) -> Optional['Test']:
        """The subtest called *name*, or None."""
        return next((t for t in self.subtests if t.name == name), None)

    def walk(self, prefix: str = '') -> Iterable[tuple]:
        """(dotted name, test) for every test case below this one."""
        for t in self.subtests:
            full = prefix + t.name
            if t.subtests:
                yield from t.walk(full + '.')
            else:
                yield full, t


def _test(p: Any) -> Test:
    counts = Counts(*(lib.uml_ktap_test_get_count(p, i) for i in range(5)))
    expected = lib.uml_ktap_test_get_expected(p)
    duration = lib.uml_ktap_test_get_duration_us(p)
    parent = lib.uml_ktap_test_get_parent(p)
    del parent  # the tree is copied top down; parents are the enclosing Test
    return Test(
        name=_str(lib.uml_ktap_test_get_name(p)) or '',
        status=Status(lib.uml_ktap_test_get_status(p)),
        counts=counts,
        expected=None if expected < 0 else expected,
        log=[_str(lib.uml_ktap_test_get_log(p, i)) or ''
             for i in range(lib.uml_ktap_test_get_n_log(p))],
        duration=None if duration < 0 else duration / 1e6,
        reason=_str(lib.uml_ktap_test_get_reason(p)),
        subtests=[_test(lib.uml_ktap_test_get_subtest(p, i))
                  for i in range(lib.uml_ktap_test_get_n_subtests(p))])


class KtapEvent(NamedTuple):
    """What the parser reports as lines arrive (see :class:`Parser`)."""
    type: str                 #: "line", "suite_start", "test_end" or "error"
    name: Optional[str]       #: the test's name (None for lines)
    status: Optional[Status]  #: its status at that moment
    text: Optional[str]       #: the line or the error message
    depth: int                #: 0 top level, 1 suites, 2 cases ...


_EVENT_TYPES = {lib.UML_KTAP_EVENT_LINE: 'line', lib.UML_KTAP_EVENT_SUITE_START: 'suite_start',
                lib.UML_KTAP_EVENT_TEST_END: 'test_end', lib.UML_KTAP_EVENT_ERROR: 'error'}


@ffi.def_extern()
def _uml_py_ktap_event(userdata, ev):  # pragma: no cover - called from C
    parser = ffi.from_handle(userdata)
    if parser._error is not None or parser._on_event is None:
        return
    try:
        t = ev.test
        parser._on_event(KtapEvent(
            _EVENT_TYPES.get(ev.type, str(ev.type)),
            _str(lib.uml_ktap_test_get_name(t)) if t != ffi.NULL else None,
            Status(lib.uml_ktap_test_get_status(t)) if t != ffi.NULL else None,
            _str(ev.text), ev.depth))
    except BaseException as exc:  # re-raised by the feeding call
        parser._error = exc


class Result(_Object):
    """A tree of KTAP results: of a parse, of a run, or read from JSON."""
    _last_error_fn = lib.uml_ktap_last_error

    def __init__(self, *, context: Optional[Context] = None, _ptr: Any = None) -> None:
        self.context = context if context is not None else Context()
        if _ptr is None:
            ret = ffi.new('struct uml_ktap **')
            self.context._check(lib.uml_ktap_new(self.context._ptr, ret))
            _ptr = ret[0]
        self._ptr = ffi.gc(_ptr, lib.uml_ktap_unref)

    @classmethod
    def from_json(cls, text: str, *, context: Optional[Context] = None) -> Result:
        """The results in a --json file (of uml-kunit or kunit.py): names and
        statuses.  Raises ``OSError`` (EBADMSG) for anything else."""
        self = cls(context=context)
        self._check(lib.uml_ktap_load_json(self._ptr, text.encode()))
        return self

    def __repr__(self) -> str:
        return '<uml.kunit.Result %s %r>' % (self.status.name, self.counts)

    @property
    def status(self) -> Status:
        """The run's status (kunit.py's, from the counts of all cases)."""
        return Status(lib.uml_ktap_get_status(self._ptr))

    @property
    def root(self) -> Optional[Test]:
        """The top-level test with everything below it, or None before any KTAP."""
        p = lib.uml_ktap_get_root(self._ptr)
        return None if p == ffi.NULL else _test(p)

    @property
    def counts(self) -> Counts:
        p = lib.uml_ktap_get_root(self._ptr)
        return Counts(*(lib.uml_ktap_test_get_count(p, i) if p != ffi.NULL else 0
                        for i in range(5)))

    @property
    def truncated(self) -> bool:
        """Whether the parser's bounds dropped tests or log lines."""
        return bool(lib.uml_ktap_get_truncated(self._ptr))

    def _text(self, call: Callable[[Any], int]) -> str:
        ret = ffi.new('char **')
        self._check(call(ret))
        try:
            return ffi.string(ret[0]).decode('utf-8', 'replace')
        finally:
            lib.free(ret[0])

    def json(self, arch: Optional[str] = None, defconfig: Optional[str] = None,
             build_dir: Optional[str] = None) -> str:
        """kunit.py's --json text (KernelCI test groups)."""
        enc = (lambda s: s.encode() if s is not None else ffi.NULL)
        return self._text(lambda ret: lib.uml_ktap_get_json(
            self._ptr, enc(arch), enc(defconfig), enc(build_dir), ret))

    def junit(self, name: Optional[str] = None) -> str:
        """JUnit XML text: a testsuite per suite, a testcase per test case."""
        return self._text(lambda ret: lib.uml_ktap_get_junit(
            self._ptr, name.encode() if name is not None else ffi.NULL, ret))


class Parser(Result):
    """An incremental KTAP parser: ``feed()`` console output as it comes,
    ``finish()`` at its end; the tree grows as tests end.

    ``Parser(on_event=None, live=False, context=None)``: *on_event* gets a
    :class:`KtapEvent` for each KTAP line, suite start, test end and parse
    error, inside :meth:`feed` and :meth:`finish`; *live* times tests by the
    arrival of their lines when the log has no printk timestamps.
    """

    def __init__(self, *, on_event: Optional[Callable[[KtapEvent], Any]] = None,
                 live: bool = False, context: Optional[Context] = None) -> None:
        super().__init__(context=context)
        self._on_event = on_event
        self._error: Optional[BaseException] = None
        self._handle = ffi.new_handle(self)
        if live:
            self._check(lib.uml_ktap_set_flags(self._ptr, lib.UML_KTAP_LIVE))
        if on_event is not None:
            lib.uml_ktap_set_event_fn(self._ptr, lib._uml_py_ktap_event, self._handle)

    def _done(self, rc: int) -> None:
        err, self._error = self._error, None
        if err is not None:
            raise err
        self._check(rc)

    def feed(self, data: bytes) -> None:
        """Parses what *data* completes (any bytes, split anywhere)."""
        if isinstance(data, str):
            data = data.encode()
        self._done(lib.uml_ktap_feed(self._ptr, data, len(data)))

    def finish(self) -> Parser:
        """Ends the input (as kunit.py ends a log); returns self."""
        self._done(lib.uml_ktap_finish(self._ptr))
        return self


def parse(data: bytes, *, context: Optional[Context] = None) -> Result:
    """Parses a whole kernel log as ``kunit.py parse`` does."""
    p = Parser(context=context)
    p.feed(data)
    return p.finish()


class KUnit(_Object):
    """Builds KUnit kernels as kunit.py does and runs their tests in parallel
    guests (``struct uml_kunit``).

    ``KUnit(source=None, *, build_dir=None, cache_dir=None, jobs=None,
    kunitconfig=(), kconfig_add=(), alltests=False, kernel=None,
    context=None)`` takes kunit.py's build settings; *kernel* (a
    :class:`uml.Kernel` or a path) runs an existing KUnit kernel instead of
    building one.  The source defaults to Debian's linux-source-6.12 tarball.
    """
    _last_error_fn = lib.uml_kunit_last_error

    def __init__(self, source: Optional[PathLike] = None, *, build_dir: Optional[PathLike] = None,
                 cache_dir: Optional[PathLike] = None, jobs: Optional[int] = None,
                 kunitconfig: Iterable[PathLike] = (), kconfig_add: Iterable[str] = (),
                 alltests: bool = False, kernel: Any = None,
                 context: Optional[Context] = None) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_kunit **')
        self.context._check(lib.uml_kunit_new(self.context._ptr, ret))
        self._ptr = ffi.gc(ret[0], lib.uml_kunit_unref)
        self._result: Optional[Result] = None
        if source is not None:
            self._check(lib.uml_kunit_set_source(self._ptr, _path(source)))
        if build_dir is not None:
            self._check(lib.uml_kunit_set_build_dir(self._ptr, _path(build_dir)))
        if cache_dir is not None:
            self._check(lib.uml_kunit_set_cache_dir(self._ptr, _path(cache_dir)))
        if jobs is not None:
            self._check(lib.uml_kunit_set_jobs(self._ptr, jobs))
        for path in kunitconfig:
            self._check(lib.uml_kunit_add_kunitconfig(self._ptr, _path(path)))
        for option in kconfig_add:
            self._check(lib.uml_kunit_add_kconfig(self._ptr, option.encode()))
        if alltests:
            self._check(lib.uml_kunit_set_flags(self._ptr, lib.UML_KUNIT_ALLTESTS))
        if kernel is not None:
            self.kernel = kernel

    def __repr__(self) -> str:
        return '<uml.kunit.KUnit %r>' % (self.build_dir,)

    @property
    def build_dir(self) -> Optional[str]:
        """The build dir of the last config() or build()."""
        return _str(lib.uml_kunit_get_build_dir(self._ptr))

    @property
    def kernel(self) -> None:
        raise AttributeError('kernel is write-only')

    @kernel.setter
    def kernel(self, kernel: Any) -> None:
        if not isinstance(kernel, Kernel):
            kernel = Kernel(kernel, context=self.context)
        self._kernel = kernel
        self._check(lib.uml_kunit_set_kernel(self._ptr, kernel._ptr))

    def config(self) -> None:
        """Writes and checks the .config (kunit.py config)."""
        self._check(lib.uml_kunit_config(self._ptr))

    def build(self) -> None:
        """Configures and builds the kernel (kunit.py build)."""
        self._check(lib.uml_kunit_build(self._ptr))

    def _filters(self, filter_glob: Optional[str], filter: Optional[str],
                 kernel_args: Iterable[str]) -> None:
        self._check(lib.uml_kunit_set_filter_glob(
            self._ptr, filter_glob.encode() if filter_glob else ffi.NULL))
        self._check(lib.uml_kunit_set_filter(self._ptr, filter.encode() if filter else ffi.NULL))
        for arg in kernel_args:
            self._check(lib.uml_kunit_add_kernel_arg(self._ptr, arg.encode()))

    def list(self, filter_glob: Optional[str] = None, *, filter: Optional[str] = None,
             kernel_args: Iterable[str] = ()) -> List[str]:
        """The selected tests as "suite.test", in the kernel's order."""
        self._filters(filter_glob, filter, kernel_args)
        ret = ffi.new('const char *const **')
        n = ffi.new('size_t *')
        self._check(lib.uml_kunit_list(self._ptr, ret, n))
        return [_str(ret[0][i]) or '' for i in range(n[0])]

    def run(self, filter_glob: Optional[str] = None, *, filter: Optional[str] = None,
            kernel_args: Iterable[str] = (), parallel: Optional[int] = None,
            timeout: Optional[float] = 300, shard_timeout: Optional[float] = None,
            rerun: Optional[Result] = None) -> Result:
        """Runs the selected tests and returns their :class:`Result`.
        *parallel* guests at once (default: CPUs); *timeout* for the whole
        run and *shard_timeout* for one guest, in seconds (None: no limit);
        *rerun*: only the tests that failed or crashed in that result."""
        self._filters(filter_glob, filter, kernel_args)
        self._check(lib.uml_kunit_set_parallel(self._ptr, parallel or 0))
        self._check(lib.uml_kunit_set_timeout(self._ptr, int((timeout or 0) * 1000)))
        self._check(lib.uml_kunit_set_shard_timeout(self._ptr, int((shard_timeout or 0) * 1000)))
        self._check(lib.uml_kunit_set_rerun(self._ptr, rerun._ptr if rerun else ffi.NULL))
        self._rerun = rerun
        self._check(lib.uml_kunit_run(self._ptr))
        ptr = lib.uml_kunit_get_result(self._ptr)
        # the result outlives the runner: take a reference of its own
        self._result = Result(context=self.context, _ptr=lib.uml_ktap_ref(ptr))
        return self._result

    @property
    def shards(self) -> List[tuple]:
        """(kunit.filter_glob, console output) of each guest of the last run."""
        out = []
        for i in range(lib.uml_kunit_get_n_shards(self._ptr)):
            n = ffi.new('size_t *')
            text = lib.uml_kunit_get_shard_output(self._ptr, i, n)
            out.append((_str(lib.uml_kunit_get_shard_glob(self._ptr, i)) or '',
                        ffi.unpack(text, n[0]).decode('utf-8', 'replace')))
        return out

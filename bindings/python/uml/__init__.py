# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build, configure, boot and monitor User Mode Linux guests.

Python bindings of libuml.  Four classes mirror the C objects:

    Context    logging, progress, the runtime directory, host compatibility
    Kernel     a UML kernel binary: ``Kernel(path)`` or ``Kernel.find()``
    Rootfs     a disk image, made from a directory or as a busybox guest
    Instance   a guest: configured, booted, followed, halted

Run one command in a fresh guest::

    import uml
    img = uml.Rootfs("guest.img").create_busybox(overwrite=True)
    with uml.Instance(rootfs=img, run="uname -r; exit 3") as vm:
        vm.wait(timeout=60)
    print(vm.run_status, vm.run_output)          # 3 6.1.0-...

Conventions:

- Failures raise ``OSError`` subclasses chosen by errno (``FileNotFoundError``,
  ``PermissionError``, ``TimeoutError``, ``ChildProcessError`` ...) whose
  message is libuml's message for the failure (it names the path or value).
- How a guest ended is not an error: read ``Instance.exit_reason``,
  ``Instance.panic_message``, ``Instance.run_status``.
- Times are seconds (floats); ``None`` means no limit.
- C objects are freed with their Python objects; an ``Instance`` that is
  collected while its guest runs kills the guest.  ``with`` blocks halt
  the guest when they end, also on exceptions.
- Callbacks (log, progress, events, console lines) run inside the call
  that triggers them.  An exception raised in a callback is kept and
  re-raised by that call once the C function has returned.
- An object may be used by one thread at a time.
"""

from __future__ import annotations

import asyncio
import enum
import errno as _errno
import logging
import os
import re
import syslog
import tempfile
from typing import Any, Callable, Iterable, NamedTuple, Optional, Tuple, Union

from ._libuml import ffi, lib

__all__ = [
    'BUSYBOX_READY_MARKER', 'MCONSOLE_TIMEOUT', 'Context', 'Event', 'EventType', 'ExitReason',
    'FsType', 'HostCompat', 'InitSystem', 'Sandbox', 'Instance', 'Kernel', 'KernelBuild', 'Progress',
    'RootfsEntry',
    'RunResult', 'Rootfs', 'State', 'run', 'Link', 'Switch',
    'ExecResult',
]

__version__ = '0.1.0'

PathLike = Union[str, bytes, 'os.PathLike[str]', 'os.PathLike[bytes]']

#: The console line busybox guests made by :meth:`Rootfs.create_busybox`
#: print once userspace is up; their default ready marker.
BUSYBOX_READY_MARKER: str = ffi.string(lib.UML_BUSYBOX_READY_MARKER).decode()

#: Seconds the mconsole calls of an :class:`Instance` wait for an answer.
MCONSOLE_TIMEOUT: float = lib.UML_MCONSOLE_TIMEOUT_MS / 1000


# ---- enums -----------------------------------------------------------------

class State(enum.IntEnum):
    """Where an instance is in its life (``enum uml_state``)."""
    CONFIGURING = lib.UML_STATE_CONFIGURING  #: not booted yet
    BOOTING = lib.UML_STATE_BOOTING          #: process started, not ready yet
    RUNNING = lib.UML_STATE_RUNNING          #: ready
    EXITED = lib.UML_STATE_EXITED            #: process ended and reaped


def _exit_reasons() -> dict:
    """libuml's exit reasons by name, read from the library itself."""
    names, value = {}, 0
    while True:
        name = lib.uml_exit_reason_to_string(value)
        if name == ffi.NULL:
            return names
        names[ffi.string(name).decode().upper().replace('-', '_')] = value
        value += 1


#: Why a guest ended (``enum uml_exit_reason``): NONE, POWEROFF, HALT, REBOOT,
#: PANIC, KILLED, TIMEOUT, FAILED_TO_START, HOST_INCOMPATIBLE, NO_INIT, NO_ROOT,
#: NO_CONSOLE, OUT_OF_MEMORY, CRASHED ...  ``str()`` gives libuml's name
#: ("poweroff", "panic" ...).
ExitReason = enum.IntEnum('ExitReason', _exit_reasons(), module=__name__)
ExitReason.__str__ = lambda self: _str(lib.uml_exit_reason_to_string(self.value))  # type: ignore


class EventType(enum.IntEnum):
    """What an :class:`Event` reports (``enum uml_event_type``)."""
    CONSOLE_LINE = lib.UML_EVENT_CONSOLE_LINE  #: a console line (text without line end)
    KERNEL_UP = lib.UML_EVENT_KERNEL_UP        #: the kernel answered on mconsole
    READY = lib.UML_EVENT_READY                #: the ready condition was met
    NOTIFY = lib.UML_EVENT_NOTIFY              #: the guest wrote to /proc/mconsole
    PANIC = lib.UML_EVENT_PANIC                #: the kernel panicked (text: the message)
    EXITED = lib.UML_EVENT_EXITED              #: the process ended (text: the reason)
    #: raw console bytes as they arrive, before line splitting (``Event.data``)
    CONSOLE_OUTPUT = lib.UML_EVENT_CONSOLE_OUTPUT


class FsType(enum.IntEnum):
    """Filesystem of images made by :class:`Rootfs`."""
    EXT4 = lib.UML_FS_EXT4
    EXT3 = lib.UML_FS_EXT3
    EXT2 = lib.UML_FS_EXT2


class InitSystem(enum.IntEnum):
    """The init system of a guest (``enum uml_init_system``)."""
    UNKNOWN = lib.UML_INIT_UNKNOWN    #: none found or not recognised; as a choice: keep
    SYSTEMD = lib.UML_INIT_SYSTEMD
    SYSVINIT = lib.UML_INIT_SYSVINIT
    UPSTART = lib.UML_INIT_UPSTART
    BUSYBOX = lib.UML_INIT_BUSYBOX

    def __str__(self) -> str:
        return _str(lib.uml_init_system_to_string(int(self))) or 'unknown'


class HostCompat(enum.IntEnum):
    """How host quirks that kill stock UML kernels (AMX hosts) are handled."""
    AUTO = lib.UML_HOSTCOMPAT_AUTO    #: apply the fix when the host needs it
    OFF = lib.UML_HOSTCOMPAT_OFF      #: never apply it
    FORCE = lib.UML_HOSTCOMPAT_FORCE  #: always apply it


class Sandbox(enum.IntEnum):
    """Whether a guest's kernel runs in libuml's sandbox (docs/security.md)."""
    AUTO = lib.UML_SANDBOX_AUTO        #: when the host allows it, else warn and run without
    OFF = lib.UML_SANDBOX_OFF          #: never (the guest's root can reach the host's files)
    REQUIRE = lib.UML_SANDBOX_REQUIRE  #: always; booting fails where the host cannot


class Event(NamedTuple):
    """An event of an :class:`Instance`, passed to its ``on_event`` callback."""
    type: EventType
    #: the event's text, decoded as UTF-8 (undecodable bytes replaced)
    text: str
    #: the raw bytes (notify data may hold NULs)
    data: bytes


class Progress(NamedTuple):
    """Progress of a long operation, passed to ``Context(progress=...)``."""
    phase: str   #: what is being done ("populate", "build" ...)
    done: int    #: units done so far
    total: int   #: units in all, 0 when unknown (a pulse)


class RunResult(NamedTuple):
    """What :func:`run` returns."""
    returncode: Optional[int]   #: the command's exit status, None if it did not finish
    output: str                 #: what it printed (stdout and stderr together)
    exit_reason: ExitReason     #: how the guest ended
    panic_message: Optional[str]


class ExecResult(NamedTuple):
    """What :meth:`Instance.exec` and :meth:`Context.exec` return."""
    returncode: int      #: exit status, or -SIGNAL if a signal killed it (as subprocess)
    stdout: bytes
    stderr: bytes
    timed_out: bool      #: killed (SIGKILL) because it ran past its timeout


class RootfsEntry(NamedTuple):
    """One entry of :meth:`Rootfs.list_dir`."""
    name: str
    mode: int        #: type and permission bits, as ``os.stat().st_mode``
    uid: int
    gid: int
    size: int
    mtime: float     #: seconds since the epoch
    mtime_ns: int    #: the same in nanoseconds
    nlink: int


# ---- helpers ---------------------------------------------------------------

def _str(p: Any) -> Optional[str]:
    return None if p == ffi.NULL else ffi.string(p).decode('utf-8', 'replace')


def _bytes(s: Union[str, bytes]) -> bytes:
    return s if isinstance(s, bytes) else s.encode()


def _path(p: PathLike) -> bytes:
    return os.fsencode(p)


def _ms(seconds: Optional[float]) -> int:
    """Seconds (None: no limit) to the C API's milliseconds (negative: none)."""
    if seconds is None:
        return -1
    if seconds < 0:
        raise ValueError('a timeout cannot be negative')
    return min(int(seconds * 1000 + 0.5), 2**31 - 1)


_SIZE = re.compile(r'\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*', re.I)


def _size(value: Union[int, str]) -> int:
    """Bytes from an int or a string like "256M", "1G", "65536"."""
    if isinstance(value, int):
        return value
    m = _SIZE.fullmatch(value)
    if not m:
        raise ValueError('bad size %r (want bytes or a number with K, M, G or T)' % value)
    return int(m.group(1)) << (10 * ' KMGT'.index(m.group(2).upper() or ' '))


def _take(p: Any, n: Optional[int] = None) -> bytes:
    """The bytes of a string libuml allocated for the caller, freed."""
    if p == ffi.NULL:
        return b''
    try:
        return ffi.unpack(p, n) if n is not None else ffi.string(p)
    finally:
        lib.free(p)


def _text(b: bytes) -> str:
    return b.decode('utf-8', 'replace')


# ---- exec channel ----------------------------------------------------------

def _exec_argv(argv: Union[str, Iterable[Union[str, bytes]]]) -> tuple:
    """A C argv (and what keeps its strings alive); a str runs with /bin/sh -c."""
    args = ['/bin/sh', '-c', argv] if isinstance(argv, str) else list(argv)
    if not args:
        raise ValueError('empty argv')
    keep = [ffi.new('char[]', _bytes(a)) for a in args]
    return ffi.new('const char *[]', keep + [ffi.NULL]), keep


def _exec_call(check: Callable[[int], int], call: Callable[..., int],
               argv: Union[str, Iterable[Union[str, bytes]]], input: Optional[bytes],
               timeout: Optional[float]) -> ExecResult:
    """call(argv, stdin, stdin_len, timeout_ms, ret) of uml_instance_exec's shape."""
    cargv, keep = _exec_argv(argv)
    data = input or b''
    ret = ffi.new('struct uml_exec **')
    check(call(cargv, data, len(data), 0 if timeout is None else max(1, _ms(timeout)), ret))
    del keep
    e = ret[0]
    try:
        n = ffi.new('size_t *')
        out = ffi.unpack(lib.uml_exec_get_stdout(e, n), n[0])
        err = ffi.unpack(lib.uml_exec_get_stderr(e, n), n[0])
        sig = lib.uml_exec_get_signal(e)
        return ExecResult(-sig if sig else lib.uml_exec_get_status(e), out, err,
                          bool(lib.uml_exec_get_timed_out(e)))
    finally:
        lib.uml_exec_unref(e)


def _oserror(rc: int, message: Optional[str]) -> OSError:
    err = -rc
    return OSError(err, message or os.strerror(err))


class _Callbacks:
    """What the C side calls back into through a handle.  It holds the
    Python callables and the first exception they raised, and no reference
    to the object it serves (so no cycle keeps that object alive)."""
    __slots__ = ('log', 'progress', 'event', 'console', 'pending', 'error', '__weakref__')

    def __init__(self) -> None:
        self.log = self.progress = self.event = self.console = None
        self.pending: Optional[BaseException] = None
        # the last error message logged since the last checked call: the
        # exact message of a failure, where the objects' last_error getters
        # may still hold an older one
        self.error: Optional[str] = None

    def keep(self, exc: BaseException) -> None:
        if self.pending is None:
            self.pending = exc

    def reraise(self) -> None:
        exc, self.pending = self.pending, None
        if exc is not None:
            raise exc


@ffi.def_extern()
def _uml_py_log(userdata, priority, msg):  # pragma: no cover - called from C
    cb = ffi.from_handle(userdata)
    text = ffi.string(msg).decode('utf-8', 'replace')
    if priority <= syslog.LOG_ERR:
        cb.error = text
    if cb.log is not None and cb.pending is None:
        try:
            cb.log(priority, text)
        except BaseException as e:
            cb.keep(e)


@ffi.def_extern()
def _uml_py_progress(userdata, p):  # pragma: no cover - called from C
    cb = ffi.from_handle(userdata)
    if cb.pending is not None:
        return 1
    if cb.progress is None:
        return 0
    try:
        r = cb.progress(Progress(_str(p.phase) or '', p.done, p.total))
    except BaseException as e:
        cb.keep(e)
        return 1
    return 1 if r is False else 0


@ffi.def_extern()
def _uml_py_event(userdata, inst, ev):  # pragma: no cover - called from C
    cb = ffi.from_handle(userdata)
    if cb.pending is not None:
        return
    data = ffi.unpack(ev.text, ev.len) if ev.text != ffi.NULL else b''
    try:
        text = data.decode('utf-8', 'replace')
        if cb.console is not None and ev.type == lib.UML_EVENT_CONSOLE_LINE:
            cb.console(text)
        if cb.event is not None:
            cb.event(Event(EventType(ev.type), text, data))
    except BaseException as e:
        cb.keep(e)


# ---- Context ---------------------------------------------------------------

_LOG_NAMES = {'emerg': syslog.LOG_EMERG, 'alert': syslog.LOG_ALERT, 'crit': syslog.LOG_CRIT,
              'err': syslog.LOG_ERR, 'error': syslog.LOG_ERR, 'warning': syslog.LOG_WARNING,
              'notice': syslog.LOG_NOTICE, 'info': syslog.LOG_INFO, 'debug': syslog.LOG_DEBUG}


_logger = logging.getLogger('uml')
_logger.addHandler(logging.NullHandler())
_LOGGING_LEVELS = {syslog.LOG_EMERG: logging.CRITICAL, syslog.LOG_ALERT: logging.CRITICAL,
                   syslog.LOG_CRIT: logging.CRITICAL, syslog.LOG_ERR: logging.ERROR,
                   syslog.LOG_WARNING: logging.WARNING, syslog.LOG_NOTICE: logging.INFO,
                   syslog.LOG_INFO: logging.INFO, syslog.LOG_DEBUG: logging.DEBUG}


def _log_to_logging(priority: int, message: str) -> None:
    _logger.log(_LOGGING_LEVELS.get(priority, logging.DEBUG), '%s', message)


class Context:
    """A libuml context: logging, progress, the runtime directory and
    host compatibility, shared by the kernels, images and guests made
    with it.

    ``Context(log=None, log_priority=None, progress=None, runtime_dir=None,
    hostcompat=None)``

    log
        ``log(priority: int, message: str)``, called for messages at or
        above *log_priority* (syslog levels, ``syslog.LOG_INFO`` ...).
        Without it messages go to the ``logging`` logger "uml" (which, like
        any library's, prints nothing until the application configures
        logging); failures are raised as exceptions either way.
    log_priority
        The most verbose level logged: an int or a name ("err", "info",
        "debug").  The default is LOG_ERR, or ``$UML_LOG``.
    progress
        ``progress(p: Progress)`` for long operations (image population,
        kernel builds).  Returning ``False`` cancels the operation, which
        then fails with an ``OSError`` (ECANCELED).
    runtime_dir
        Where guests keep their pid file and mconsole socket (uml_dir=);
        ``$UML_DIR`` or ``~/.uml`` by default, where ``uml_mconsole`` looks.
    hostcompat
        A :class:`HostCompat` mode; AUTO by default (``$UML_HOSTCOMPAT``).
    sandbox
        A :class:`Sandbox` mode for its guests; AUTO by default
        (``$UML_SANDBOX``: off, on, require).

    Objects made without an explicit context get a context of their own.
    """

    def __init__(self, *, log: Optional[Callable[[int, str], Any]] = None,
                 log_priority: Union[int, str, None] = None,
                 progress: Optional[Callable[[Progress], Any]] = None,
                 runtime_dir: Optional[PathLike] = None,
                 hostcompat: Optional[HostCompat] = None,
                 sandbox: Optional[Sandbox] = None) -> None:
        ret = ffi.new('struct uml_ctx **')
        rc = lib.uml_ctx_new(ret)
        if rc < 0:
            raise _oserror(rc, 'cannot create a libuml context')
        self._cb = _Callbacks()
        handle = ffi.new_handle(self._cb)
        self._handle = handle

        def release(p: Any, handle: Any = handle) -> None:
            # the C context may outlive this object (children keep it), so
            # detach the callbacks before the handle goes away
            lib.uml_ctx_set_log_fn(p, ffi.NULL, ffi.NULL)
            lib.uml_ctx_set_progress_fn(p, ffi.NULL, ffi.NULL)
            lib.uml_ctx_unref(p)

        self._ptr = ffi.gc(ret[0], release)
        lib.uml_ctx_set_progress_fn(self._ptr, lib._uml_py_progress, handle)
        self.set_log(log if log is not None else _log_to_logging)
        if log_priority is not None:
            self.log_priority = log_priority
        if progress is not None:
            self._cb.progress = progress
        if runtime_dir is not None:
            self.runtime_dir = runtime_dir
        if hostcompat is not None:
            self.set_hostcompat(hostcompat)
        if sandbox is not None:
            self.sandbox = sandbox

    def __repr__(self) -> str:
        return '<uml.Context runtime_dir=%r>' % self.runtime_dir

    def _check(self, rc: int, last_error: Optional[Callable[[], Optional[str]]] = None) -> int:
        """After a C call: re-raises a callback's exception, then raises
        for rc < 0 with the message libuml logged for the failure (else the
        object's last error, else the context's)."""
        cb = self._cb
        logged, cb.error = cb.error, None
        cb.reraise()
        if rc < 0:
            raise _oserror(rc, logged or (last_error and last_error()) or self.last_error)
        return rc

    def set_log(self, fn: Optional[Callable[[int, str], Any]]) -> None:
        """Routes libuml's messages to ``fn(priority, message)``, or to
        libuml's default (stderr) with None."""
        self._cb.log = fn
        if fn is None:
            lib.uml_ctx_set_log_fn(self._ptr, ffi.NULL, ffi.NULL)
        else:
            lib.uml_ctx_set_log_fn(self._ptr, lib._uml_py_log, self._handle)

    def set_progress(self, fn: Optional[Callable[[Progress], Any]]) -> None:
        """Sets the progress callback (see the class documentation), or None."""
        self._cb.progress = fn

    @property
    def log_priority(self) -> int:
        """The most verbose syslog priority logged; settable with an int or
        a name ("err", "info", "debug")."""
        return lib.uml_ctx_get_log_priority(self._ptr)

    @log_priority.setter
    def log_priority(self, value: Union[int, str]) -> None:
        if isinstance(value, str):
            try:
                value = _LOG_NAMES[value.lower()]
            except KeyError:
                raise ValueError('unknown log priority %r' % value) from None
        lib.uml_ctx_set_log_priority(self._ptr, int(value))

    @property
    def runtime_dir(self) -> str:
        """The runtime directory guests use (absolute path; settable)."""
        return _str(lib.uml_ctx_get_runtime_dir(self._ptr)) or ''

    @runtime_dir.setter
    def runtime_dir(self, path: PathLike) -> None:
        self._check(lib.uml_ctx_set_runtime_dir(self._ptr, _path(path)))

    @property
    def sandbox(self) -> Sandbox:
        """The :class:`Sandbox` mode of guests without one of their own (settable)."""
        return Sandbox(lib.uml_ctx_get_sandbox(self._ptr))

    @sandbox.setter
    def sandbox(self, mode: Sandbox) -> None:
        self._check(lib.uml_ctx_set_sandbox(self._ptr, int(Sandbox(mode))))

    def set_hostcompat(self, mode: HostCompat) -> None:
        """Chooses how guests booted afterwards handle host quirks."""
        self._check(lib.uml_ctx_set_hostcompat(self._ptr, int(mode)))

    @property
    def host_needs_compat(self) -> bool:
        """True if this host needs the compatibility fix for stock UML
        kernels (it has AMX)."""
        return bool(lib.uml_ctx_host_needs_compat(self._ptr))

    @property
    def last_error(self) -> Optional[str]:
        """libuml's message for the last failure in this context, or None."""
        return _str(lib.uml_ctx_last_error(self._ptr))

    def mconsole(self, umid: str, command: str, timeout: Optional[float] = MCONSOLE_TIMEOUT) -> str:
        """Sends an mconsole *command* ("version", "proc meminfo" ...) to any
        UML guest running in this context's runtime directory, also one libuml
        did not start, found by its *umid* (or the absolute path of its
        mconsole socket); returns the answer.  Raises ``OSError`` with errno
        EREMOTEIO and the kernel's message when it refused the command,
        ``FileNotFoundError`` when no such guest exists,
        ``ConnectionRefusedError`` for a dead one, ``TimeoutError``."""
        reply, n = ffi.new('char **'), ffi.new('size_t *')
        self._check(lib.uml_ctx_mconsole(self._ptr, umid.encode(), command.encode(),
                                         _ms(timeout), reply, n))
        return _text(_take(reply[0], n[0]))

    def exec(self, umid: str, argv: Union[str, Iterable[Union[str, bytes]]], *,
             input: Optional[bytes] = None, timeout: Optional[float] = None) -> ExecResult:
        """Runs *argv* (a list, or a str for ``/bin/sh -c``) in the guest
        *umid* that a process booted with the exec channel, e.g.
        ``uml-run --exec-channel``; that process must be running its event
        loop.  As :meth:`Instance.exec`.  ``OSError`` with errno ENOTCONN if
        no such guest serves the channel."""
        return _exec_call(self._check,
                          lambda *a: lib.uml_ctx_exec(self._ptr, umid.encode(), *a),
                          argv, input, timeout)

    def add_port_forward(self, umid: str, proto: str, host_addr: Optional[str],
                         host_port: int, guest_port: int) -> int:
        """Adds a forward to the running guest *umid* with NAT that another
        process (or this one) booted, through its NAT helper, as ``uml-ctl
        UMID hostfwd add``; returns the bound host port."""
        ret = ffi.new('unsigned *')
        self._check(lib.uml_ctx_add_port_forward(
            self._ptr, umid.encode(), Instance._PROTOS[proto],
            host_addr.encode() if host_addr else ffi.NULL, host_port, guest_port, ret))
        return ret[0]

    def remove_port_forward(self, umid: str, proto: str, host_addr: Optional[str],
                            host_port: int) -> None:
        """Removes a forward of the running guest *umid*."""
        self._check(lib.uml_ctx_remove_port_forward(
            self._ptr, umid.encode(), Instance._PROTOS[proto],
            host_addr.encode() if host_addr else ffi.NULL, host_port))

    def port_forwards(self, umid: str) -> str:
        """The forwards of the running guest *umid*, one per line
        ("hostfwd tcp 127.0.0.1 8080 10.0.2.15 80", "guestfwd ...")."""
        ret = ffi.new('char **')
        self._check(lib.uml_ctx_list_port_forwards(self._ptr, umid.encode(), ret))
        return _text(_take(ret[0]))


class _Object:
    """Common parts of the objects that live in a context."""
    _ptr: Any
    _last_error_fn: Any
    context: Context

    def _check(self, rc: int) -> int:
        return self.context._check(rc, lambda: _str(self._last_error_fn(self._ptr)))

    @property
    def last_error(self) -> Optional[str]:
        """libuml's message for the last failure on this object, or None."""
        return _str(self._last_error_fn(self._ptr))


# ---- Kernel ----------------------------------------------------------------

class Kernel(_Object):
    """A User Mode Linux kernel binary.

    ``Kernel(path, context=None)`` checks that *path* is an executable
    x86-64 ELF built as UML, without running it.  Raises
    ``FileNotFoundError`` when it does not exist, ``IsADirectoryError``,
    ``PermissionError`` when it is not executable, ``OSError`` with errno
    ENOEXEC for a non-ELF file and EMEDIUMTYPE for an ELF binary that is not
    a UML kernel.

    :meth:`Kernel.find` gives the default kernel: ``$UML_KERNEL``, else
    ``/usr/bin/linux.uml`` (Debian's user-mode-linux), else ``linux`` on
    ``$PATH``.
    """
    _last_error_fn = lib.uml_kernel_last_error

    def __init__(self, path: PathLike, *, context: Optional[Context] = None) -> None:
        self._adopt(context, lambda ctx, ret: lib.uml_kernel_new_from_path(ctx, _path(path), ret))

    def _adopt(self, context: Optional[Context], new: Callable[[Any, Any], int]) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_kernel **')
        self.context._check(new(self.context._ptr, ret))
        self._ptr = ffi.gc(ret[0], lib.uml_kernel_unref)

    @classmethod
    def find(cls, *, context: Optional[Context] = None) -> Kernel:
        """The default kernel ($UML_KERNEL, /usr/bin/linux.uml, ``linux``
        on $PATH).  Raises ``FileNotFoundError`` (listing where it looked)
        when there is none."""
        self = cls.__new__(cls)
        self._adopt(context, lib.uml_kernel_new_default)
        return self

    def __repr__(self) -> str:
        return '<uml.Kernel %r>' % self.path

    @property
    def path(self) -> str:
        """The absolute path of the kernel binary."""
        return _str(lib.uml_kernel_get_path(self._ptr)) or ''

    @property
    def version(self) -> str:
        """The kernel's version ("6.1.176"); runs it with --version once."""
        ret = ffi.new('const char **')
        self._check(lib.uml_kernel_get_version(self._ptr, ret))
        return _str(ret[0]) or ''

    def config(self, option: str) -> Optional[str]:
        """The value of a Kconfig option ("y", "m", a number or a quoted
        string), with or without the CONFIG_ prefix; None when it is not
        set.  Raises ``OSError`` (ENODATA) for a kernel without an embedded
        configuration."""
        ret = ffi.new('const char **')
        rc = lib.uml_kernel_get_config(self._ptr, option.encode(), ret)
        if rc == -_errno.ENOENT:
            self._check(0)
            return None
        self._check(rc)
        return _str(ret[0])

    @classmethod
    def build(cls, source: PathLike, **settings: Any) -> Kernel:
        """Builds a kernel from source and returns it:
        ``Kernel.build("/usr/src/linux-source-6.12.tar.xz", preset="fast")``.
        Takes the keyword arguments of :class:`KernelBuild`."""
        return KernelBuild(source, **settings).run()

    @classmethod
    def _wrap(cls, ptr: Any, context: Context) -> Kernel:
        self = cls.__new__(cls)
        self.context = context
        self._ptr = ffi.gc(ptr, lib.uml_kernel_unref)
        return self

    @property
    def is_static(self) -> bool:
        """True for a statically linked kernel (host compatibility fixes
        cannot be applied to it)."""
        return bool(lib.uml_kernel_is_static(self._ptr))


# ---- Rootfs ----------------------------------------------------------------

class Rootfs(_Object):
    """A disk image for a guest (ubd0).

    ``Rootfs(image, size=None, fs_type=None, context=None)`` describes an
    image that exists or is to be made; nothing is read or written until
    :meth:`open`, :meth:`create_from_dir`, :meth:`create_busybox` or a boot.

    size
        Size of images created afterwards, in bytes or as "256M" (a
        multiple of 1 KiB, at least 1 MiB; 64 MiB by default).
    fs_type
        A :class:`FsType` (EXT4 by default).

    The create methods return the object, so
    ``uml.Rootfs("guest.img").create_busybox(overwrite=True)`` is an image
    ready to boot.
    """
    _last_error_fn = lib.uml_rootfs_last_error

    def __init__(self, image: PathLike, *, size: Union[int, str, None] = None,
                 fs_type: Optional[FsType] = None, context: Optional[Context] = None) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_rootfs **')
        self.context._check(lib.uml_rootfs_new(self.context._ptr, _path(image), ret))
        self._ptr = ffi.gc(ret[0], lib.uml_rootfs_unref)
        if size is not None:
            self.set_size(size)
        if fs_type is not None:
            self.set_fs_type(fs_type)

    def __repr__(self) -> str:
        return '<uml.Rootfs %r>' % self.path

    def __fspath__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        """The absolute image path."""
        return _str(lib.uml_rootfs_get_path(self._ptr)) or ''

    def set_size(self, size: Union[int, str]) -> None:
        """Size of images created afterwards (bytes, or "256M")."""
        self._check(lib.uml_rootfs_set_size(self._ptr, _size(size)))

    def set_fs_type(self, fs_type: FsType) -> None:
        """Filesystem of images created afterwards."""
        self._check(lib.uml_rootfs_set_fs_type(self._ptr, int(fs_type)))

    def open(self) -> Rootfs:
        """Checks that the image exists and holds an ext2/3/4 filesystem.
        Raises ``FileNotFoundError``, ``IsADirectoryError``, or ``OSError``
        (EMEDIUMTYPE) when no such filesystem is in it."""
        self._check(lib.uml_rootfs_open(self._ptr))
        return self

    @staticmethod
    def _flags(overwrite: bool) -> int:
        return lib.UML_ROOTFS_CREATE_OVERWRITE if overwrite else 0

    def create_from_dir(self, directory: PathLike, *, overwrite: bool = False) -> Rootfs:
        """Creates the image from the contents of a host directory (files,
        links, devices with their modes, owners and times), without mounting
        and without root.  A failure leaves no half-made image.  Raises
        ``FileExistsError`` if the image exists and *overwrite* is false,
        ``FileNotFoundError``/``NotADirectoryError`` for a bad directory,
        ``OSError`` (ENOSPC) when the tree does not fit."""
        self._check(lib.uml_rootfs_create_from_dir(self._ptr, _path(directory),
                                                   self._flags(overwrite)))
        return self

    def create_busybox(self, busybox: Optional[PathLike] = None, *,
                       overwrite: bool = False) -> Rootfs:
        """Creates a minimal busybox guest: busybox and its applet links, an
        /init that mounts /proc, /sys and /dev and prints
        :data:`BUSYBOX_READY_MARKER`, then a shell on the console.  *busybox*
        is a static busybox binary (default: /bin/busybox of Debian's
        busybox-static).  Raises as :meth:`create_from_dir`."""
        self._check(lib.uml_rootfs_create_busybox(
            self._ptr, _path(busybox) if busybox is not None else ffi.NULL,
            self._flags(overwrite)))
        return self


    # -- files in the image

    def copy_in(self, host_src: PathLike, guest_dst: str, *, overwrite: bool = False) -> None:
        """Copies a host file, symlink, special file or directory tree to
        *guest_dst* (absolute) in the image, with modes, owners, times, hard
        links and holes, without mounting it.  A directory copied onto an
        existing one is merged.  Raises ``FileExistsError`` when a
        non-directory is in the way and *overwrite* is false,
        ``FileNotFoundError``, ``NotADirectoryError``, ``OSError`` (ENOSPC,
        EBUSY for an image in use or not cleanly unmounted)."""
        self._check(lib.uml_rootfs_copy_in(self._ptr, _path(host_src), guest_dst.encode(),
                                           lib.UML_ROOTFS_COPY_OVERWRITE if overwrite else 0))

    def read_file(self, guest_path: str) -> bytes:
        """The contents of a regular file in the image (symlinks followed).
        Raises ``FileNotFoundError``, ``IsADirectoryError``."""
        data, n = ffi.new('char **'), ffi.new('size_t *')
        self._check(lib.uml_rootfs_read_file(self._ptr, guest_path.encode(), data, n))
        return _take(data[0], n[0])

    def list_dir(self, guest_path: str = '/') -> list:
        """The entries of a directory in the image, sorted by name, as
        :class:`RootfsEntry` tuples (without "." and "..")."""
        ret, n = ffi.new('const struct uml_rootfs_entry **'), ffi.new('size_t *')
        self._check(lib.uml_rootfs_list_dir(self._ptr, guest_path.encode(), ret, n))
        out = []
        for i in range(n[0]):
            e = ret[0][i]
            ns = e.mtime * 1000000000 + e.mtime_nsec
            out.append(RootfsEntry(_str(e.name) or '', e.mode, e.uid, e.gid, e.size,
                                   ns / 1e9, ns, e.nlink))
        return out

    def remove(self, guest_path: str) -> None:
        """Removes a file, symlink or directory tree from the image."""
        self._check(lib.uml_rootfs_remove(self._ptr, guest_path.encode()))

    def resize(self, size: Union[int, str]) -> None:
        """Grows the image and its filesystem offline (resize2fs) to *size*
        (bytes or "1G").  Raises ``OSError`` (ERANGE) to shrink."""
        self._check(lib.uml_rootfs_resize(self._ptr, _size(size)))

    # -- Debian guests (debootstrap)

    def set_mirror(self, url: Optional[str]) -> None:
        """The Debian mirror (http/https); None for the one apt uses."""
        self._check(lib.uml_rootfs_set_mirror(self._ptr, url.encode() if url else ffi.NULL))

    @property
    def mirror(self) -> str:
        """The mirror :meth:`create_debootstrap` uses (set, or apt's)."""
        return _str(lib.uml_rootfs_get_mirror(self._ptr)) or ''

    def set_arch(self, arch: Optional[str]) -> None:
        """The Debian architecture; None for the host's."""
        self._check(lib.uml_rootfs_set_arch(self._ptr, arch.encode() if arch else ffi.NULL))

    def set_variant(self, variant: Optional[str]) -> None:
        """"minbase", "buildd", or None for debootstrap's default."""
        self._check(lib.uml_rootfs_set_variant(self._ptr,
                                               variant.encode() if variant else ffi.NULL))

    def add_package(self, name: str) -> None:
        """An extra package to install (debootstrap --include)."""
        self._check(lib.uml_rootfs_add_package(self._ptr, name.encode()))

    def set_cache_dir(self, directory: Optional[PathLike]) -> None:
        """Where downloaded packages are kept; None for ~/.cache/libuml."""
        self._check(lib.uml_rootfs_set_cache_dir(
            self._ptr, _path(directory) if directory is not None else ffi.NULL))

    def create_debootstrap(self, suite: str, *, overwrite: bool = False, refresh: bool = False,
                           configure: bool = True) -> 'Rootfs':
        """Builds a Debian guest of *suite* with debootstrap (needs root:
        ``PermissionError`` otherwise), from cached packages when this
        recipe was built before, then configures it (see :meth:`configure`)
        unless *configure* is false."""
        flags = self._flags(overwrite)
        if refresh:
            flags |= lib.UML_ROOTFS_DEBOOTSTRAP_REFRESH
        if not configure:
            flags |= lib.UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE
        self._check(lib.uml_rootfs_create_debootstrap(self._ptr, suite.encode(), flags))
        return self

    @property
    def debootstrap_was_cached(self) -> bool:
        """True if the last Debian build took its packages from the cache."""
        return bool(lib.uml_rootfs_debootstrap_was_cached(self._ptr))

    # -- configuration

    def set_hostname(self, name: Optional[str]) -> None:
        """The guest's host name; None leaves the image's alone."""
        self._check(lib.uml_rootfs_set_hostname(self._ptr, name.encode() if name else ffi.NULL))

    def set_network(self, spec: Optional[str]) -> None:
        """"none", "dhcp" or "static:ADDR/PREFIX[,GW[,DNS]]" for eth0."""
        self._check(lib.uml_rootfs_set_network(self._ptr, spec.encode() if spec else ffi.NULL))

    def set_root_password(self, password: Optional[str]) -> None:
        """Root's password (stored hashed), or None for none."""
        self._check(lib.uml_rootfs_set_root_password(
            self._ptr, password.encode() if password is not None else ffi.NULL))

    def set_autologin(self, enable: bool = True) -> None:
        """Log root in on the console automatically."""
        self._check(lib.uml_rootfs_set_autologin(self._ptr, 1 if enable else 0))

    def set_init(self, init: InitSystem) -> None:
        """Boot with this installed init (UNKNOWN keeps the image's)."""
        self._check(lib.uml_rootfs_set_init(self._ptr, int(init)))

    def configure(self) -> InitSystem:
        """Applies the UML fixups (fstab, host name, network, console getty,
        root password, device nodes) in the style of the guest's init
        system, through libext2fs; returns that init system.  Raises
        ``FileNotFoundError`` for an image without an init."""
        self._check(lib.uml_rootfs_configure(self._ptr, 0))
        return self.init_system

    @property
    def init_system(self) -> InitSystem:
        """The init system found in the image."""
        ret = ffi.new('enum uml_init_system *')
        self._check(lib.uml_rootfs_get_init_system(self._ptr, ret))
        return InitSystem(ret[0])

    # -- loop mounts (root)

    def mount(self, mountpoint: PathLike, *, readonly: bool = False) -> None:
        """Loop-mounts the image through libmount (root only)."""
        self._check(lib.uml_rootfs_mount(self._ptr, _path(mountpoint),
                                         lib.UML_ROOTFS_MOUNT_READONLY if readonly else 0))

    @property
    def mountpoint(self) -> Optional[str]:
        """Where :meth:`mount` mounted the image, or None."""
        return _str(lib.uml_rootfs_get_mountpoint(self._ptr))

    def umount(self) -> None:
        """Unmounts and detaches the loop device."""
        self._check(lib.uml_rootfs_umount(self._ptr))

    # -- COW overlays

    @classmethod
    def _wrap(cls, ptr: Any, context: Context) -> Rootfs:
        self = cls.__new__(cls)
        self.context = context
        self._ptr = ffi.gc(ptr, lib.uml_rootfs_unref)
        return self

    def create_cow(self, cow_path: PathLike, *, overwrite: bool = False) -> Rootfs:
        """Creates a copy-on-write overlay over this image, in UML's own
        format (as ``uml_mkcow`` makes them), and returns it as a
        :class:`Rootfs` to boot from.  Guests write only to their overlay, so
        many can share one image; never modify an image that has overlays.
        Raises ``FileExistsError`` (without *overwrite*),
        ``FileNotFoundError`` when this image does not exist."""
        ret = ffi.new('struct uml_rootfs **')
        self._check(lib.uml_rootfs_new_cow(self._ptr, _path(cow_path), self._flags(overwrite), ret))
        return Rootfs._wrap(ret[0], self.context)

    @classmethod
    def open_cow(cls, cow_path: PathLike, *, context: Optional[Context] = None) -> Rootfs:
        """Opens an existing overlay (made by libuml, ``uml_mkcow`` or the
        kernel); its header is checked, the backing path read from it."""
        context = context if context is not None else Context()
        ret = ffi.new('struct uml_rootfs **')
        context._check(lib.uml_rootfs_open_cow(context._ptr, _path(cow_path), ret))
        return cls._wrap(ret[0], context)

    @property
    def backing(self) -> Optional[str]:
        """The backing image of an overlay, None for a plain image."""
        return _str(lib.uml_rootfs_get_backing(self._ptr))

    def cow_check(self) -> None:
        """Checks the overlay against its backing file as UML will at boot.
        Raises ``OSError`` with errno ESTALE when the backing file changed,
        ``FileNotFoundError`` when it is gone."""
        self._check(lib.uml_rootfs_cow_check(self._ptr))

    @property
    def cow_written(self) -> int:
        """Bytes of the device the overlay holds (written by guests)."""
        ret = ffi.new('uint64_t *')
        self._check(lib.uml_rootfs_cow_get_written(self._ptr, ret))
        return ret[0]

    def cow_merge(self, out_image: PathLike, *, overwrite: bool = False) -> Rootfs:
        """Writes a standalone image: the backing file with the overlay's
        writes applied (as ``uml_moo``); returns it.  Neither input is
        changed."""
        self._check(lib.uml_rootfs_cow_merge(self._ptr, _path(out_image), self._flags(overwrite)))
        return Rootfs(out_image, context=self.context)


# ---- Kernel builds ---------------------------------------------------------

class KernelBuild(_Object):
    """A build of a UML kernel from source.

    ``KernelBuild(source=None, *, preset=None, build_dir=None,
    cache_dir=None, jobs=None, fragments=(), options=(),
    allow_dropped=False, fail_on_conflict=False, context=None)``

    source
        An unpacked Linux source tree or a tarball of one (Debian's
        ``/usr/src/linux-source-6.12.tar.xz``), unpacked once into the cache.
    preset
        "fast" (default: tinyconfig plus what libuml uses), "tinyconfig" or
        "defconfig"; see :meth:`preset_text`.
    build_dir, cache_dir
        Where the build goes (``make O=``) and where tarballs are unpacked
        (``$XDG_CACHE_HOME/libuml``).
    jobs
        ``make -j`` (default: the number of CPUs).
    fragments, options
        Config fragment files and single options ("CONFIG_KUNIT=y") applied
        in order after the preset.
    allow_dropped
        Build even when requested options end up not set.
    fail_on_conflict
        Fail when fragments or options set one symbol differently.

    :meth:`run` builds (or finds the build up to date) and returns the
    :class:`Kernel`, reporting progress through the context's progress
    callback, which can cancel it.
    """
    _last_error_fn = lib.uml_kernel_build_last_error

    def __init__(self, source: Optional[PathLike] = None, *, preset: Optional[str] = None,
                 build_dir: Optional[PathLike] = None, cache_dir: Optional[PathLike] = None,
                 jobs: Optional[int] = None, fragments: Iterable[PathLike] = (),
                 options: Iterable[str] = (), allow_dropped: bool = False,
                 fail_on_conflict: bool = False, context: Optional[Context] = None) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_kernel_build **')
        self.context._check(lib.uml_kernel_build_new(self.context._ptr, ret))
        self._ptr = ffi.gc(ret[0], lib.uml_kernel_build_unref)
        if source is not None:
            self.set_source(source)
        if preset is not None:
            self.set_preset(preset)
        if build_dir is not None:
            self.set_build_dir(build_dir)
        if cache_dir is not None:
            self.set_cache_dir(cache_dir)
        if jobs is not None:
            self.set_jobs(jobs)
        for f in fragments:
            self.add_fragment_file(f)
        for o in options:
            self.add_option(o)
        if allow_dropped or fail_on_conflict:
            self.set_flags(allow_dropped=allow_dropped, fail_on_conflict=fail_on_conflict)

    @property
    def source_tree(self) -> str:
        """The source tree: the source itself, or a tarball unpacked into the
        cache (once, as a build would), to read files the kernel ships."""
        ret = ffi.new('const char **')
        self._check(lib.uml_kernel_build_get_source_tree(self._ptr, ret))
        return _str(ret[0]) or ''

    def __repr__(self) -> str:
        return '<uml.KernelBuild %r>' % (self.build_dir,)

    def set_source(self, source: PathLike) -> None:
        """A Linux source tree or a tarball of one."""
        self._check(lib.uml_kernel_build_set_source(self._ptr, _path(source)))

    def set_build_dir(self, path: PathLike) -> None:
        """The out-of-tree build directory (created if missing)."""
        self._check(lib.uml_kernel_build_set_build_dir(self._ptr, _path(path)))

    def set_cache_dir(self, path: PathLike) -> None:
        """Where tarballs are unpacked and default build dirs live."""
        self._check(lib.uml_kernel_build_set_cache_dir(self._ptr, _path(path)))

    def set_jobs(self, jobs: int) -> None:
        """Parallel make jobs; 0 for the number of CPUs."""
        self._check(lib.uml_kernel_build_set_jobs(self._ptr, jobs))

    def set_preset(self, name: str) -> None:
        """"fast", "tinyconfig" or "defconfig"; ``OSError`` (EINVAL) names
        the known ones for another name."""
        self._check(lib.uml_kernel_build_set_preset(self._ptr, name.encode()))

    @staticmethod
    def preset_text(name: str) -> Optional[str]:
        """The config fragment of a shipped preset ("fast"); None for
        "tinyconfig", "defconfig" (they come from the kernel source) and
        unknown names."""
        return _str(lib.uml_kernel_build_get_preset_text(name.encode()))

    def add_fragment_file(self, path: PathLike) -> None:
        """Reads a config fragment file now ("CONFIG_X=y" and "# CONFIG_X is
        not set" lines).  Raises ``FileNotFoundError``, ``OSError`` (EINVAL)
        naming the file and line of a malformed line."""
        self._check(lib.uml_kernel_build_add_fragment_file(self._ptr, _path(path)))

    def add_option(self, option: str) -> None:
        """One fragment line, e.g. "CONFIG_KUNIT=y"."""
        self._check(lib.uml_kernel_build_add_option(self._ptr, option.encode()))

    def set_flags(self, *, allow_dropped: bool = False, fail_on_conflict: bool = False) -> None:
        """See the class documentation."""
        flags = ((lib.UML_KERNEL_BUILD_ALLOW_DROPPED if allow_dropped else 0) |
                 (lib.UML_KERNEL_BUILD_FAIL_ON_CONFLICT if fail_on_conflict else 0))
        self._check(lib.uml_kernel_build_set_flags(self._ptr, flags))

    def run(self) -> Kernel:
        """Configures and builds the kernel (nothing when it is up to date)
        and returns it.  Raises ``FileNotFoundError`` for a missing source,
        ``OSError`` with errno ENOPKG (missing host tools, named), ENOTSUP
        (requested options dropped: see :attr:`dropped_options`), EIO (make
        failed: the message quotes the log), ECANCELED (the progress
        callback returned False), or the progress callback's exception."""
        ret = ffi.new('struct uml_kernel **')
        self._check(lib.uml_kernel_build_run(self._ptr, ret))
        return Kernel._wrap(ret[0], self.context)

    @property
    def build_dir(self) -> Optional[str]:
        """The build directory of the last run."""
        return _str(lib.uml_kernel_build_get_build_dir(self._ptr))

    @property
    def kernel_path(self) -> Optional[str]:
        """The kernel binary the last run built or would build."""
        return _str(lib.uml_kernel_build_get_kernel_path(self._ptr))

    @property
    def log_path(self) -> Optional[str]:
        """The build log of the last run."""
        return _str(lib.uml_kernel_build_get_log_path(self._ptr))

    @property
    def dropped_options(self) -> list:
        """Requested options the last run found not set as asked."""
        return (_str(lib.uml_kernel_build_get_dropped_options(self._ptr)) or '').split()

    @property
    def conflicts(self) -> list:
        """Conflicting settings of the last run, one description each."""
        text = _str(lib.uml_kernel_build_get_conflicts(self._ptr))
        return text.split('; ') if text else []

    @property
    def was_up_to_date(self) -> bool:
        """True if the last run found the kernel up to date and ran no make."""
        return bool(lib.uml_kernel_build_was_up_to_date(self._ptr))


# ---- Networking ------------------------------------------------------------

class Link(_Object):
    """A point-to-point "cable" between two guests (``Link(context=None)``):
    pass it to :meth:`Instance.add_link` of two instances before they boot;
    each gets a vector interface ("vecN") on it.  No root, no switch
    process."""

    def __init__(self, *, context: Optional[Context] = None) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_link **')
        self.context._check(lib.uml_link_new(self.context._ptr, ret))
        self._ptr = ffi.gc(ret[0], lib.uml_link_unref)

    def _check(self, rc: int) -> int:
        return self.context._check(rc)

    @property
    def last_error(self) -> Optional[str]:
        """The context's last error (links keep none of their own)."""
        return self.context.last_error


class Switch(_Object):
    """An Ethernet switch many guests plug into (a vde_switch of Debian's
    vde2 package, control directory RUNTIME_DIR/switch-NAME):
    ``Switch(name, context=None)``.  libuml starts it at the first boot of a
    guest with a port on it (:meth:`Instance.add_switch_port`) or at
    :meth:`start`, and stops it once this object and the guests using it
    are gone."""
    _last_error_fn = lib.uml_switch_last_error

    def __init__(self, name: str, *, context: Optional[Context] = None) -> None:
        self.context = context if context is not None else Context()
        ret = ffi.new('struct uml_switch **')
        self.context._check(lib.uml_switch_new(self.context._ptr, name.encode(), ret))
        self._ptr = ffi.gc(ret[0], lib.uml_switch_unref)

    def __repr__(self) -> str:
        return '<uml.Switch %r pid=%d>' % (self.path, self.pid)

    def start(self) -> 'Switch':
        """Starts the switch now and waits until it accepts connections.
        Raises ``OSError`` with errno ENOPKG without vde_switch, EIO when it
        did not come up."""
        self._check(lib.uml_switch_start(self._ptr))
        return self

    @property
    def path(self) -> str:
        """The control directory (what ``vde_plug DIR`` takes)."""
        return _str(lib.uml_switch_get_path(self._ptr)) or ''

    @property
    def pid(self) -> int:
        """The pid of the vde_switch libuml started, or 0."""
        return lib.uml_switch_get_pid(self._ptr)


# ---- Instance --------------------------------------------------------------

class Instance(_Object):
    """A User Mode Linux guest.

    ``Instance(kernel=None, rootfs=None, *, memory=None, umid=None, args=(),
    init=None, ready_marker=None, timeout=None, run=None, enable_exec=False,
    hostfs=(), sandbox=None, on_console=None, on_event=None, context=None)``

    kernel
        A :class:`Kernel`, a kernel path, or None for :meth:`Kernel.find`.
    rootfs
        A :class:`Rootfs` or an image path, booted as ubd0 (root=/dev/ubda).
    memory
        Guest RAM in bytes or as "256M" (64 MiB by default).
    umid
        The guest's name ([A-Za-z0-9._-], at most 63 characters); unique by
        default.  Tools such as ``uml_mconsole`` find the guest by it.
    args
        Extra kernel command line arguments ("loglevel=4").
    init
        Absolute path of the guest's init.
    ready_marker
        A console text that makes the guest ready; busybox images default to
        :data:`BUSYBOX_READY_MARKER`, other guests are ready once the kernel
        is up.
    timeout
        Seconds the guest may run before libuml kills it (exit reason
        TIMEOUT).
    run
        One-shot mode: a shell command the guest runs as init (via /bin/sh)
        before it is halted; read :attr:`run_status` and :attr:`run_output`.
    enable_exec
        Boot with libuml's exec channel (:meth:`enable_exec`): then
        :meth:`exec` runs commands, :meth:`copy_in`/:meth:`copy_out` move
        files while the guest runs; nothing is installed in the image.
    hostfs
        Host directories to share: ``(host_dir, guest_path)`` or
        ``(host_dir, guest_path, readonly)`` tuples (:meth:`add_hostfs`).
    sandbox
        A :class:`Sandbox` mode for this guest; the context's by default.
        :attr:`sandboxed` tells whether its last boot ran in the sandbox.
    on_console
        ``on_console(line: str)`` for every console line.
    on_event
        ``on_event(event: Event)`` for every :class:`Event`.

    Life cycle: :meth:`boot` starts the guest; :meth:`wait_ready`,
    :meth:`wait`, :meth:`halt` and :meth:`kill` block.  Used as a context
    manager the instance boots on entry (unless booted already) and halts
    on exit, also when the block raises::

        with uml.Instance(rootfs="guest.img") as vm:
            vm.wait_ready(timeout=30)
            vm.write_console("echo hello\\n")
        print(vm.exit_reason)        # ExitReason.HALT

    Event loops: :meth:`fileno` polls readable when :meth:`process` has
    work, and :meth:`deadline` says when it must be called anyway;
    ``async with`` and :meth:`wait_ready_async`/:meth:`wait_async` do that
    on the running asyncio loop.  Callbacks run only inside
    :meth:`process`, the wait methods, :meth:`halt` and :meth:`kill`.

    How the guest ended: :attr:`state`, :attr:`exit_reason`,
    :attr:`exit_detail`, :attr:`panic_message`, :attr:`exit_signal`,
    :attr:`exit_code`, :attr:`console_log`.
    """
    _last_error_fn = lib.uml_instance_last_error

    def __init__(self, kernel: Union[Kernel, PathLike, None] = None,
                 rootfs: Union[Rootfs, PathLike, None] = None, *,
                 memory: Union[int, str, None] = None, umid: Optional[str] = None,
                 args: Iterable[str] = (), init: Optional[str] = None,
                 ready_marker: Optional[str] = None, timeout: Optional[float] = None,
                 run: Optional[str] = None, enable_exec: bool = False,
                 hostfs: Iterable[tuple] = (),
                 sandbox: Optional[Sandbox] = None,
                 on_console: Optional[Callable[[str], Any]] = None,
                 on_event: Optional[Callable[[Event], Any]] = None,
                 context: Optional[Context] = None) -> None:
        if kernel is None:
            kernel = Kernel.find(context=context)
        elif not isinstance(kernel, Kernel):
            kernel = Kernel(kernel, context=context)
        self.kernel = kernel
        self.context = kernel.context
        ret = ffi.new('struct uml_instance **')
        self.context._check(lib.uml_instance_new(kernel._ptr, ret))
        self._cb = _Callbacks()
        self._cb.console, self._cb.event = on_console, on_event
        handle = ffi.new_handle(self._cb)

        def release(p: Any, handle: Any = handle) -> None:
            lib.uml_instance_set_event_fn(p, ffi.NULL, ffi.NULL)
            lib.uml_instance_unref(p)

        self._ptr = ffi.gc(ret[0], release)
        lib.uml_instance_set_event_fn(self._ptr, lib._uml_py_event, handle)
        self.rootfs: Optional[Rootfs] = None
        if rootfs is not None:
            self.set_rootfs(rootfs)
        if memory is not None:
            self.set_memory(memory)
        if umid is not None:
            self.set_umid(umid)
        for arg in args:
            self.append_arg(arg)
        if init is not None:
            self.set_init(init)
        if ready_marker is not None:
            self.set_ready_marker(ready_marker)
        if timeout is not None:
            self.set_timeout(timeout)
        if run is not None:
            self.set_run_command(run)
        if enable_exec:
            self.enable_exec()
        for share in hostfs:
            self.add_hostfs(*share[:2], readonly=bool(share[2:] and share[2]))
        if sandbox is not None:
            self.set_sandbox(sandbox)

    def __repr__(self) -> str:
        return '<uml.Instance %s %s>' % (self.umid, self.state.name.lower())

    def _check(self, rc: int) -> int:
        pending, self._cb.pending = self._cb.pending, None
        if pending is not None:
            self.context._check(0)   # forgets the call's messages; a log callback's exception first
            raise pending
        return super()._check(rc)

    # -- configuration

    def set_rootfs(self, rootfs: Union[Rootfs, PathLike]) -> None:
        """Boots from *rootfs* (a :class:`Rootfs` or an image path) as ubd0."""
        if not isinstance(rootfs, Rootfs):
            rootfs = Rootfs(rootfs, context=self.context)
        self._check(lib.uml_instance_set_rootfs(self._ptr, rootfs._ptr))
        self.rootfs = rootfs

    def set_memory(self, memory: Union[int, str]) -> None:
        """Guest RAM: at least 16 MiB, a multiple of 1 MiB (bytes or "256M")."""
        self._check(lib.uml_instance_set_memory(self._ptr, _size(memory)))

    def set_umid(self, umid: str) -> None:
        """Names the guest (see the class documentation)."""
        self._check(lib.uml_instance_set_umid(self._ptr, umid.encode()))

    def append_arg(self, arg: str) -> None:
        """Appends one kernel command line argument.  Arguments libuml sets
        itself (mem=, ubd0=, umid=, root=, init= ...) are refused with
        ``OSError`` (EINVAL); use their setters."""
        self._check(lib.uml_instance_append_arg(self._ptr, arg.encode()))

    def set_boot_profile(self, enable: bool = True) -> None:
        """Passes (the default) or leaves out the boot profile: arguments that
        skip boot work no libuml guest needs, chosen from the kernel's
        configuration (the RAID6 benchmark, BSD ptys; docs/boot-profile.md).
        Turn it off for md RAID4/5/6, btrfs RAID5/6 or BSD ptys."""
        self._check(lib.uml_instance_set_boot_profile(self._ptr, 1 if enable else 0))

    def set_init(self, path: Optional[str]) -> None:
        """The guest's init (absolute path), or None for the kernel's choice."""
        self._check(lib.uml_instance_set_init(self._ptr, path.encode() if path else ffi.NULL))

    def set_ready_marker(self, text: Optional[str]) -> None:
        """A console text whose appearance makes the guest ready, or None."""
        self._check(lib.uml_instance_set_ready_marker(self._ptr,
                                                      text.encode() if text else ffi.NULL))

    def set_timeout(self, seconds: Optional[float]) -> None:
        """How long the guest may run from boot before it is killed; None
        for no limit."""
        self._check(lib.uml_instance_set_timeout(self._ptr, 0 if seconds is None else _ms(seconds)))

    def set_sandbox(self, mode: Sandbox) -> None:
        """Chooses whether this guest's kernel runs in the sandbox (before boot)."""
        self._check(lib.uml_instance_set_sandbox(self._ptr, int(Sandbox(mode))))

    @property
    def sandboxed(self) -> bool:
        """True when the guest's last boot ran in the sandbox."""
        return bool(lib.uml_instance_get_sandboxed(self._ptr))

    def set_run_command(self, command: Optional[str]) -> None:
        """One-shot mode: the guest runs *command* with /bin/sh as init and
        is halted when it finishes (see :attr:`run_status`)."""
        self._check(lib.uml_instance_set_run_command(self._ptr,
                                                     command.encode() if command else ffi.NULL))

    # -- exec channel (libuml/exec.c)

    def enable_exec(self) -> None:
        """Boots the guest with libuml's exec channel: a small agent that
        libuml injects (no image change) runs commands for :meth:`exec`,
        copies files and mounts hostfs shares.  The guest becomes ready
        when the agent is up (and its ready marker, if any, was seen)."""
        self._check(lib.uml_instance_enable_exec(self._ptr))

    def add_hostfs(self, host_dir: PathLike, guest_path: str, *, readonly: bool = False) -> None:
        """Mounts the host directory *host_dir* at *guest_path* in the guest
        (hostfs; made if missing) before its init starts.  Enables the exec
        channel."""
        self._check(lib.uml_instance_add_hostfs(self._ptr, _path(host_dir), guest_path.encode(),
                                                lib.UML_HOSTFS_READONLY if readonly else 0))

    def exec(self, argv: Union[str, Iterable[Union[str, bytes]]], *,
             input: Optional[bytes] = None, timeout: Optional[float] = None) -> ExecResult:
        """Runs *argv* (a list; a str runs with ``/bin/sh -c``) in the
        running guest and waits for it; returns an :class:`ExecResult`
        (stdout and stderr apart, as bytes).  *input* goes to its stdin;
        past *timeout* seconds the guest kills it.  A command that fails is
        not an error; ``FileNotFoundError`` if it does not exist,
        ``OSError`` with errno ENOTCONN if the guest has no exec channel or
        ended, ``ConnectionResetError`` if it ended while the command ran."""
        return _exec_call(self._check, lambda *a: lib.uml_instance_exec(self._ptr, *a),
                          argv, input, timeout)

    def copy_in(self, host_path: PathLike, guest_path: str) -> None:
        """Copies a host file into the running guest (with its permission bits)."""
        self._check(lib.uml_instance_copy_in(self._ptr, _path(host_path), guest_path.encode()))

    def copy_out(self, guest_path: str, host_path: PathLike) -> None:
        """Copies a file out of the running guest to *host_path*."""
        self._check(lib.uml_instance_copy_out(self._ptr, guest_path.encode(), _path(host_path)))

    def set_on_console(self, fn: Optional[Callable[[str], Any]]) -> None:
        """Sets the console line callback, or None."""
        self._cb.console = fn

    def set_on_event(self, fn: Optional[Callable[[Event], Any]]) -> None:
        """Sets the event callback, or None."""
        self._cb.event = fn

    @property
    def argv(self) -> list:
        """The kernel's argument vector as :meth:`boot` would build it
        (with placeholders for file descriptors not known yet)."""
        argv = lib.uml_instance_get_argv(self._ptr)
        if argv == ffi.NULL:
            self._check(-_errno.EINVAL)
        out, i = [], 0
        while argv[i] != ffi.NULL:
            out.append(_str(argv[i]))
            i += 1
        return out

    # -- life cycle

    def boot(self) -> Instance:
        """Starts the guest and returns once its process runs.  Raises
        ``FileNotFoundError`` for a missing image, ``FileExistsError`` when
        a guest with this umid runs, ``OSError`` when already booted
        (EBUSY)."""
        self._check(lib.uml_instance_boot(self._ptr))
        return self

    def wait_ready(self, timeout: Optional[float] = None) -> None:
        """Blocks until the guest is ready.  Raises ``TimeoutError`` (the
        guest keeps running) or ``ChildProcessError`` when it ended first
        (see :attr:`exit_reason`).  In one-shot mode the end of the command
        counts as ready."""
        self._check(lib.uml_instance_wait_ready(self._ptr, _ms(timeout)))

    def wait(self, timeout: Optional[float] = None) -> ExitReason:
        """Blocks until the guest has ended; returns :attr:`exit_reason`.
        Raises ``TimeoutError`` (the guest keeps running)."""
        self._check(lib.uml_instance_wait(self._ptr, _ms(timeout)))
        return self.exit_reason

    def halt(self, timeout: Optional[float] = None) -> ExitReason:
        """Asks the kernel to halt (mconsole), then SIGTERM, then SIGKILL,
        allowing *timeout* seconds (default 5) per step; returns once the
        guest was reaped.  A guest that has ended already, or was never
        booted, is left as it is."""
        if self.state != State.CONFIGURING:
            self._check(lib.uml_instance_halt(self._ptr, _ms(timeout) if timeout is not None else -1))
        return self.exit_reason

    def kill(self) -> None:
        """Kills the guest's process group (SIGKILL) and reaps it."""
        if self.state != State.CONFIGURING:
            self._check(lib.uml_instance_kill(self._ptr))

    def __enter__(self) -> Instance:
        if self.state == State.CONFIGURING:
            self.boot()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.halt()

    async def __aenter__(self) -> Instance:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        if self.state in (State.BOOTING, State.RUNNING):
            await asyncio.get_running_loop().run_in_executor(None, self.halt)

    # -- event loop

    def fileno(self) -> int:
        """A file descriptor that polls readable when :meth:`process` has
        work (for ``selectors``, ``select``, asyncio).  Valid from boot until
        the guest has ended: unregister it when :attr:`state` is EXITED.
        Raises ``OSError`` (ENOTCONN) outside that time."""
        fd = lib.uml_instance_get_fd(self._ptr)
        if fd < 0:
            raise _oserror(fd, 'guest %s is not running' % self.umid)
        return fd

    def deadline(self) -> Optional[float]:
        """The ``time.monotonic()`` time at which :meth:`process` must be
        called even without fd activity, or None."""
        ret = ffi.new('uint64_t *')
        self._check(lib.uml_instance_get_timeout(self._ptr, ret))
        return None if ret[0] == 2**64 - 1 else ret[0] / 1e6

    def process(self) -> bool:
        """Handles pending console output, notifications, deadlines and
        process exit without blocking, running the callbacks.  Returns True
        if something was handled."""
        handled = False
        for _ in range(64):
            if self._check(lib.uml_instance_process(self._ptr)) == 0:
                break
            handled = True
        return handled

    async def _until(self, done: Callable[[], bool], timeout: Optional[float]) -> None:
        if done():
            return
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fd = self.fileno()
        watching = True
        timer: Optional[asyncio.TimerHandle] = None

        def unwatch() -> None:
            nonlocal watching, timer
            if watching:
                loop.remove_reader(fd)
                watching = False
            if timer is not None:
                timer.cancel()
                timer = None

        def step() -> None:
            nonlocal timer
            if fut.done():
                return
            try:
                self.process()
            except BaseException as e:
                unwatch()
                fut.set_exception(e)
                return
            if self.state == State.EXITED:
                unwatch()          # libuml closed the fd: forget it at once
            if done():
                unwatch()
                fut.set_result(None)
                return
            if timer is not None:
                timer.cancel()
                timer = None
            d = self.deadline()
            if d is not None:
                timer = loop.call_at(d, step)

        loop.add_reader(fd, step)
        try:
            step()
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise OSError(_errno.ETIMEDOUT, 'guest %s: no result within %g s'
                          % (self.umid, timeout)) from None
        finally:
            unwatch()

    async def wait_ready_async(self, timeout: Optional[float] = None) -> None:
        """``await vm.wait_ready_async()``: :meth:`wait_ready` on the running
        asyncio loop, which keeps serving other tasks (and other guests)
        meanwhile."""
        await self._until(lambda: self.state != State.BOOTING, timeout)
        self.wait_ready(0)   # the outcome and its error, without blocking

    async def wait_async(self, timeout: Optional[float] = None) -> ExitReason:
        """``await vm.wait_async()``: :meth:`wait` on the running asyncio
        loop; returns :attr:`exit_reason`."""
        await self._until(lambda: self.state == State.EXITED, timeout)
        return self.wait(0)

    # -- console

    def write_console(self, data: Union[str, bytes]) -> int:
        """Writes to the guest's console input; returns the bytes taken.
        Raises ``BlockingIOError`` when the console is full."""
        b = _bytes(data)
        return self._check(lib.uml_instance_write_console(self._ptr, b, len(b)))

    @property
    def console_log(self) -> str:
        """Everything the guest wrote on its console so far (the last 8 MiB)."""
        n = ffi.new('size_t *')
        p = lib.uml_instance_get_console_log(self._ptr, n)
        return '' if p == ffi.NULL else ffi.unpack(p, n[0]).decode('utf-8', 'replace')

    # -- network

    def _iface(self, fn: Any, *args: Any) -> int:
        ret = ffi.new('unsigned *')
        self._check(fn(self._ptr, *args, ret))
        return ret[0]

    def add_nat(self, *, forwards: Iterable[Tuple[str, Optional[str], int, int]] = (),
                ipv6: bool = False, restrict: bool = False, host_loopback: bool = True,
                memory_limit: Optional[int] = None) -> int:
        """Adds an interface with NAT to the host (libslirp in libuml's
        sandboxed helper process, no root): the guest gets 10.0.2.15/24,
        gateway 10.0.2.2 (the host's 127.0.0.1 unless *host_loopback* is
        false), DNS 10.0.2.3; with *ipv6* also fec0::/64.  *restrict* allows
        no outbound connections.  *forwards* are host-to-guest port forwards
        as for add_port_forward(): ``("tcp", "127.0.0.1", 8080, 80)``.
        Returns the interface's index.  Raises ``FileExistsError`` for a
        second one."""
        flags = ((lib.UML_NAT_IPV6 if ipv6 else 0) | (lib.UML_NAT_RESTRICT if restrict else 0) |
                 (0 if host_loopback else lib.UML_NAT_NO_HOST_LOOPBACK))
        index = (self._iface(lib.uml_instance_add_nat_with_flags, flags) if flags
                 else self._iface(lib.uml_instance_add_nat))
        self._nat_index = index
        if memory_limit is not None:
            self._check(lib.uml_instance_set_nat_memory_limit(self._ptr, index, memory_limit))
        for fwd in forwards:
            self.add_port_forward(*fwd, iface=index)
        return index

    _PROTOS = {'tcp': lib.UML_FWD_TCP, 'udp': lib.UML_FWD_UDP}

    def _nat_iface(self, iface: Optional[int]) -> int:
        if iface is not None:
            return iface
        index = getattr(self, '_nat_index', None)
        if index is None:
            raise OSError(_errno.ENOENT, 'the guest has no NAT interface (add_nat())')
        return index

    def add_port_forward(self, proto: str, host_addr: Optional[str], host_port: int,
                         guest_port: int, *, iface: Optional[int] = None) -> int:
        """Forwards *proto* ("tcp" or "udp") connections to *host_addr*
        (numeric, None for 127.0.0.1) port *host_port* (0: any free one) to
        *guest_port* of the guest's NAT interface *iface* (None: the NAT
        interface), before boot or while it runs.  Returns the forward's
        index in port_forwards(), which tells the bound port once the guest
        runs.  A port in use raises ``OSError`` (EADDRINUSE) - at boot for
        forwards added before."""
        if proto not in self._PROTOS:
            raise ValueError(f'proto must be "tcp" or "udp", not {proto!r}')
        ret = ffi.new('unsigned *')
        self._check(lib.uml_instance_add_port_forward(
            self._ptr, self._nat_iface(iface), self._PROTOS[proto],
            host_addr.encode() if host_addr else ffi.NULL, host_port, guest_port, ret))
        return ret[0]

    def remove_port_forward(self, proto: str, host_addr: Optional[str], host_port: int, *,
                            iface: Optional[int] = None) -> None:
        """Removes the forward of *proto* *host_addr* port *host_port*."""
        if proto not in self._PROTOS:
            raise ValueError(f'proto must be "tcp" or "udp", not {proto!r}')
        self._check(lib.uml_instance_remove_port_forward(
            self._ptr, self._nat_iface(iface), self._PROTOS[proto],
            host_addr.encode() if host_addr else ffi.NULL, host_port))

    def port_forwards(self, *, iface: Optional[int] = None) -> list:
        """The host-to-guest forwards as (proto, host_addr, host_port,
        guest_port) tuples; while the guest runs, read from the helper (the
        bound ports, forwards other processes added included)."""
        index = self._nat_iface(iface)
        n = ffi.new('unsigned *')
        self._check(lib.uml_instance_list_port_forwards(self._ptr, index, n))
        out = []
        for i in range(n[0]):
            proto, addr = ffi.new('enum uml_fwd_proto *'), ffi.new('const char **')
            hport, gport = ffi.new('unsigned *'), ffi.new('unsigned *')
            self._check(lib.uml_instance_get_port_forward(self._ptr, index, i, proto, addr,
                                                          hport, gport))
            out.append(('udp' if proto[0] == lib.UML_FWD_UDP else 'tcp', _str(addr[0]),
                        hport[0], gport[0]))
        return out

    def add_guest_forward(self, guest_addr: str, guest_port: int, host: str,
                          host_port: int = 0, *, iface: Optional[int] = None) -> None:
        """Forwards the guest's TCP connections to *guest_addr*:*guest_port*
        (a free address of 10.0.2.0/24) to the host's *host*:*host_port*
        (numeric address) or to the unix socket at the absolute path *host*
        (before boot)."""
        self._check(lib.uml_instance_add_guest_forward(
            self._ptr, self._nat_iface(iface), guest_addr.encode(), guest_port,
            os.fsencode(host), host_port))

    def add_link(self, link: Link) -> int:
        """Plugs the guest into one end of *link* (before boot); returns the
        interface's index."""
        return self._iface(lib.uml_instance_add_link, link._ptr)

    def add_switch_port(self, switch: Switch) -> int:
        """Plugs the guest into a port of *switch* (also while it runs);
        returns the interface's index."""
        return self._iface(lib.uml_instance_add_switch_port, switch._ptr)

    def add_tap(self, dev: str, *, create: bool = False) -> int:
        """Connects the guest to the host tap device *dev*; with *create*
        libuml creates it at boot (root) and deletes it afterwards.  Returns
        the interface's index."""
        return self._iface(lib.uml_instance_add_tap, dev.encode(),
                           lib.UML_TAP_CREATE if create else 0)

    def set_iface_mac(self, index: int, mac: str) -> None:
        """Sets the MAC address of interface *index* ("02:00:00:00:00:01")."""
        self._check(lib.uml_instance_set_iface_mac(self._ptr, index, mac.encode()))

    def set_iface_address(self, index: int, address: Optional[str],
                          gateway: Optional[str] = None) -> None:
        """The guest side's "A.B.C.D/LEN" of interface *index* and a default
        route through *gateway*, set at boot (busybox guests, one-shot
        commands) or passed on the kernel command line."""
        self._check(lib.uml_instance_set_iface_address(
            self._ptr, index, address.encode() if address else ffi.NULL,
            gateway.encode() if gateway else ffi.NULL))

    def set_dns(self, server: Optional[str]) -> None:
        """The guest's name server (IPv4), or None."""
        self._check(lib.uml_instance_set_dns(self._ptr, server.encode() if server else ffi.NULL))

    @property
    def ifaces(self) -> list:
        """The interfaces as (name, mac) tuples by index: ("eth0",
        "02:...") for switch ports and taps, ("vec0", ...) for NAT and links.
        Removed interfaces keep their index."""
        return [(_str(lib.uml_instance_get_iface_name(self._ptr, i)),
                 _str(lib.uml_instance_get_iface_mac(self._ptr, i)))
                for i in range(lib.uml_instance_get_iface_count(self._ptr))]

    def remove_iface(self, index: int) -> None:
        """Removes interface *index* (from a running guest too)."""
        self._check(lib.uml_instance_remove_iface(self._ptr, index))

    # -- mconsole

    def _mconsole_text(self, fn: Any, *args: Any) -> str:
        ret = ffi.new('char **')
        self._check(fn(self._ptr, *args, ret))
        return _text(_take(ret[0]))

    def mconsole(self, command: str) -> str:
        """Sends a management console command ("proc meminfo", "config
        ubd1=/img" ...) to the running guest and returns the kernel's answer
        (waiting up to :data:`MCONSOLE_TIMEOUT`).  Raises ``OSError`` with
        errno EREMOTEIO and the kernel's message when it refused,
        ``OSError`` (ENOTCONN) when the guest does not run,
        ``TimeoutError``.  The typed methods below check their arguments."""
        reply, n = ffi.new('char **'), ffi.new('size_t *')
        self._check(lib.uml_instance_mconsole(self._ptr, command.encode(), reply, n))
        return _text(_take(reply[0], n[0]))

    def mconsole_version(self) -> str:
        """The kernel's uname line."""
        return self._mconsole_text(lib.uml_instance_mconsole_version)

    def mconsole_help(self) -> str:
        """The kernel's list of mconsole commands."""
        return self._mconsole_text(lib.uml_instance_mconsole_help)

    def mconsole_halt(self) -> None:
        """Asks the kernel to halt at once, without waiting (see :meth:`halt`)."""
        self._check(lib.uml_instance_mconsole_halt(self._ptr))

    def mconsole_reboot(self) -> None:
        """Asks the kernel to restart at once (same process, fresh boot)."""
        self._check(lib.uml_instance_mconsole_reboot(self._ptr))

    def mconsole_cad(self) -> None:
        """Sends Ctrl-Alt-Del."""
        self._check(lib.uml_instance_mconsole_cad(self._ptr))

    def mconsole_stop(self) -> None:
        """Freezes the guest until :meth:`mconsole_go`."""
        self._check(lib.uml_instance_mconsole_stop(self._ptr))

    def mconsole_go(self) -> None:
        """Resumes a guest frozen by :meth:`mconsole_stop`."""
        self._check(lib.uml_instance_mconsole_go(self._ptr))

    def mconsole_sysrq(self, key: str) -> str:
        """Sends SysRq *key* ("s", "m", "t", "c" ...); returns what the kernel
        printed for it (may be empty)."""
        if len(key) != 1:
            raise ValueError('a SysRq key is one character, not %r' % key)
        return self._mconsole_text(lib.uml_instance_mconsole_sysrq, key.encode())

    def mconsole_log(self, text: str) -> None:
        """Writes one line to the guest's kernel log."""
        self._check(lib.uml_instance_mconsole_log(self._ptr, text.encode()))

    def mconsole_proc(self, path: str) -> str:
        """Reads a file below the guest's /proc ("meminfo") without guest
        userspace."""
        data, n = ffi.new('char **'), ffi.new('size_t *')
        self._check(lib.uml_instance_mconsole_proc(self._ptr, path.encode(), data, n))
        return _text(_take(data[0], n[0]))

    def mconsole_stack(self, pid: int) -> str:
        """Dumps the kernel stack of guest process *pid* to the kernel log;
        returns what the kernel printed (may be empty)."""
        return self._mconsole_text(lib.uml_instance_mconsole_stack, pid)

    def mconsole_config(self, spec: str) -> None:
        """Adds or changes a device of the running guest ("ubd1=/img")."""
        self._check(lib.uml_instance_mconsole_config(self._ptr, spec.encode()))

    def mconsole_config_get(self, dev: str) -> str:
        """The current configuration of device *dev* ("ubd1", "con0")."""
        return self._mconsole_text(lib.uml_instance_mconsole_config_get, dev.encode())

    def mconsole_remove(self, dev: str) -> None:
        """Removes a device from the running guest."""
        self._check(lib.uml_instance_mconsole_remove(self._ptr, dev.encode()))

    def add_disk_live(self, index: int, image: Union[Rootfs, PathLike], *,
                      readonly: bool = False) -> None:
        """Hot-adds a disk image as ubd unit *index* (1-15; the guest sees
        /dev/ubdb for 1 ...).  Raises ``FileNotFoundError``, ``OSError``
        (EBUSY) for a unit in use."""
        path = image.path if isinstance(image, Rootfs) else image
        self._check(lib.uml_instance_add_disk_live(
            self._ptr, index, _path(path), lib.UML_DISK_LIVE_READONLY if readonly else 0))

    def remove_disk_live(self, index: int) -> None:
        """Removes ubd unit *index*; ``OSError`` (EBUSY) while the guest has
        it open."""
        self._check(lib.uml_instance_remove_disk_live(self._ptr, index))

    # -- state and outcome

    @property
    def umid(self) -> str:
        """The guest's umid."""
        return _str(lib.uml_instance_get_umid(self._ptr)) or ''

    @property
    def state(self) -> State:
        """The :class:`State`."""
        return State(lib.uml_instance_get_state(self._ptr))

    @property
    def pid(self) -> int:
        """The kernel's host pid while it runs, else 0."""
        return lib.uml_instance_get_pid(self._ptr)

    @property
    def exit_reason(self) -> ExitReason:
        """Why the guest ended; ExitReason.NONE while it runs."""
        return ExitReason(lib.uml_instance_get_exit_reason(self._ptr))

    @property
    def exit_detail(self) -> Optional[str]:
        """The console line or message that decided :attr:`exit_reason`."""
        return _str(lib.uml_instance_get_exit_detail(self._ptr))

    @property
    def panic_message(self) -> Optional[str]:
        """The kernel's panic message if the guest panicked, else None."""
        return _str(lib.uml_instance_get_panic_message(self._ptr))

    @property
    def exit_signal(self) -> int:
        """The signal that ended the kernel process, or 0."""
        return lib.uml_instance_get_exit_signal(self._ptr)

    @property
    def exit_code(self) -> int:
        """The kernel process's exit code if it exited, else -1."""
        return lib.uml_instance_get_exit_code(self._ptr)

    @property
    def run_status(self) -> Optional[int]:
        """The one-shot command's exit status (0-255), or None if it did not
        finish."""
        ret = ffi.new('int *')
        rc = lib.uml_instance_get_run_status(self._ptr, ret)
        return None if rc < 0 else ret[0]

    @property
    def run_output(self) -> Optional[str]:
        """What the one-shot command printed (stdout and stderr together),
        or None without a run command."""
        n = ffi.new('size_t *')
        p = lib.uml_instance_get_run_output(self._ptr, n)
        return None if p == ffi.NULL else ffi.unpack(p, n[0]).decode('utf-8', 'replace')

    @property
    def hostcompat_applied(self) -> bool:
        """True if the guest was started with the host compatibility fix."""
        return bool(lib.uml_instance_get_hostcompat_applied(self._ptr))


# ---- one-shot helper -------------------------------------------------------

def run(command: str, rootfs: Union[Rootfs, PathLike, None] = None, *,
        kernel: Union[Kernel, PathLike, None] = None, timeout: Optional[float] = None,
        memory: Union[int, str, None] = None, context: Optional[Context] = None) -> RunResult:
    """Runs a shell command in a fresh guest and returns a :class:`RunResult`.

    Without *rootfs* the guest is a busybox image made in a temporary
    directory and removed afterwards.  *timeout* limits the guest's whole
    life (it is killed past it; ``RunResult.exit_reason`` is then TIMEOUT).
    """
    with tempfile.TemporaryDirectory(prefix='uml-run-') as tmp:
        if rootfs is None:
            ctx = context if context is not None else (
                kernel.context if isinstance(kernel, Kernel) else Context())
            context = ctx
            rootfs = Rootfs(os.path.join(tmp, 'busybox.img'), context=ctx).create_busybox()
        with Instance(kernel, rootfs, run=command, timeout=timeout, memory=memory,
                      context=context) as vm:
            vm.wait()
        return RunResult(vm.run_status, vm.run_output or '', vm.exit_reason, vm.panic_message)

"""`SocketFile`: the control socket's file: created safely (mode and group before anyone can connect), a stale one
replaced, a live one (another daemon) refused, and removed at the end only if it is still ours."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import stat

from rtaudiod.errors import ControlError

__all__ = ["SocketFile"]

log = logging.getLogger("rtaudiod.control")


class SocketFile:
    def __init__(self, path: str, mode: int, gid: int | None, backlog: int) -> None:
        self.path, self.mode, self.gid, self.backlog = path, mode, gid, backlog
        self._lock_fd: int | None = None
        self._inode: tuple[int, int] | None = None

    def listen(self) -> socket.socket:
        """Create the listening socket at `self.path`, with its mode and group before anyone can connect.

        1. A lock file (`<path>.lock`, flock) is held while the server lives: two daemons starting at once cannot
           both decide a socket is stale.
        2. An existing file at the path: not a socket -> refuse (never delete someone's file); a socket someone
           answers on -> refuse (another daemon is live); a socket nobody answers on (ECONNREFUSED) -> stale, it
           will be replaced.
        3. bind() to a temporary name in the same directory, chmod and chown it, and only then listen(): before
           listen() a connect is refused, so the moment between bind (mode 0777 & ~umask) and chmod lets nobody
           in, whatever the umask (changing the umask instead would race other threads: it is per process).
        4. rename() it over the path: atomic, so the path never points at nothing while a stale one is replaced.
        """
        path = self.path
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        tmp = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        if len(os.fsencode(tmp)) > 107:
            raise ControlError(f"the socket path {path!r} is too long for a Unix socket (108 bytes with the "
                               "temporary name)", code="bad_path")
        lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise ControlError(f"another rtaudiod holds {path}.lock: it is running (or starting) on {path}",
                               code="socket_in_use") from None
        try:
            self._check_existing(path)
            try:
                os.unlink(tmp)  # our own leftover (same pid: a server that failed half-way)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.bind(tmp)
                os.chmod(tmp, self.mode)
                if self.gid is not None:
                    os.chown(tmp, -1, self.gid)
                sock.listen(self.backlog)
                sock.setblocking(False)
                os.rename(tmp, path)
            except BaseException:
                sock.close()
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            st = os.stat(path)
            self._inode = (st.st_dev, st.st_ino)
        except BaseException:
            os.close(lock_fd)
            raise
        self._lock_fd = lock_fd
        return sock

    @staticmethod
    def _check_existing(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlError(f"{path} exists and is not a socket: not replacing it", code="socket_in_use")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            log.info("replacing the stale socket %s (nobody listens on it)", path)
            return
        except FileNotFoundError:
            return
        except OSError as e:  # a timeout (a live daemon with a full backlog), a permission: do not touch it
            raise ControlError(f"{path}: cannot tell whether a daemon listens there ({e}): not replacing it",
                               code="socket_in_use") from None
        finally:
            probe.close()
        raise ControlError(f"another daemon is listening on {path}: not starting a second one",
                           code="socket_in_use")

    def remove(self) -> None:
        """Unlink the path if it is still the socket this server created (not one a successor put there)."""
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("could not remove %s: %s", self.path, e)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock file stays: unlinking it would race a starting successor
            self._lock_fd = None

"""sd_notify must never hold the daemon's main loop: a service manager that does not read its socket (busy, hung)
lets only `net.unix.max_dgram_qlen` (10) datagrams queue up. Found by the network-fault tests: after a burst of
state changes the daemon hung in a blocking send and ignored SIGTERM."""

from __future__ import annotations

import socket
import threading

from rtaudiod.daemon.notify import Notifier


def test_a_manager_that_never_reads_does_not_block_the_notifier(tmp_path):
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(tmp_path / "notify"))  # bound, never read
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    sent: list[bool] = []
    worker = threading.Thread(target=lambda: sent.extend(notifier.send(f"STATUS=state {i}") for i in range(100)),
                              daemon=True)
    worker.start()
    worker.join(10)
    try:
        assert not worker.is_alive(), "a send blocked on the full notify socket"
        assert sent[0] and not sent[-1]  # the first went out; once the queue was full the rest were dropped
        assert manager.recv(4096) == b"STATUS=state 0"
    finally:
        notifier.close()
        manager.close()

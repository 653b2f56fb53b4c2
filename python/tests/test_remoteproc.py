# RemoteProc: loading, attaching, the life cycle, trace, finaliser.
import gc

import amptest
import openamp
from amptest import ECHO, Collector, Session, expect_raises, wait_ready, wait_state


def _echo(ept, cb, payload):
    cb.clear()
    assert ept.send(payload, timeout=2000) == len(payload)
    assert cb.wait(1, 2), "no echo of %r" % (payload,)
    assert cb.msgs == [payload]


def test_remoteproc_from_path_str():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        rp = openamp.RemoteProc(amptest.fw(amptest.VUART))
        s.adopt(rp)
        assert rp.state == "ready"
        assert rp.start() is None
        assert rp.state == "running"
        wait_ready(ept)
        _echo(ept, cb, b"str path")


def test_remoteproc_host_table_firmware():
    # an image without a resource table runs on the one the host provides
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.VUART_HOSTTABLE)
        _echo(ept, cb, b"host table")
        assert "virtual_uart_hosttable: start" in rp.trace()


def test_state_through_the_life_cycle():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        rp = s.remote(start=False)
        assert rp.state == "ready"
        rp.start()
        assert rp.state == "running"
        wait_ready(ept)
        assert rp.stop() is None
        assert rp.state == "stopped"
        rp.start()
        assert rp.state == "running"
        wait_ready(ept)
        _echo(ept, cb, b"after restart")
        assert rp.shutdown() is None
        assert rp.state == "offline"
        assert rp.shutdown() is None  # twice is harmless
        assert rp.state == "offline"


def test_life_cycle_errors():
    with Session() as s:
        rp = s.remote(start=False)
        e = amptest.expect_raises(OSError, rp.stop, errno=amptest.EINVAL)
        amptest.readable(e, "not running")
        rp.start()
        e = amptest.expect_raises(OSError, rp.start, errno=amptest.EBUSY)
        amptest.readable(e, "running")
        rp.stop()
        amptest.expect_raises(OSError, rp.stop, errno=amptest.EINVAL)
        rp.shutdown()
        e = amptest.expect_raises(OSError, rp.start, errno=amptest.EINVAL)
        amptest.readable(e)
        amptest.expect_raises(OSError, rp.stop, errno=amptest.EINVAL)
        amptest.expect_raises(OSError, rp.trace, errno=amptest.EINVAL)


def test_trace():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        t = rp.trace()
        assert isinstance(t, str)
        assert t.startswith("virtual_uart: start\n"), repr(t)
        assert rp.trace(0) == t
        for i in range(100):
            ept.send(b"t")
        assert cb.wait(100)
        # the firmware notes every 100th echo in its trace
        assert amptest.wait_until(lambda: "virtual_uart: 100 echoes" in rp.trace(), 2), rp.trace()
        amptest.expect_raises(OSError, rp.trace, 1)  # it has one trace buffer
        rp.stop()
        assert "virtual_uart: start" in rp.trace()  # still readable when stopped


def test_a_new_remoteproc_replaces_the_old_one():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        old = s.remote(start=False)
        new = s.remote(amptest.CRASH, start=False)  # loaded over the old image
        assert old.state == "offline"
        assert new.state == "ready"
        e = amptest.expect_raises(OSError, old.start, errno=amptest.EINVAL)
        amptest.readable(e, "replaced")
        new.start()
        wait_ready(ept)
        old.shutdown()  # not the owner: must not touch the new remote
        assert new.state == "running"
        _echo(ept, cb, b"crash.elf echoes")
        assert "crash: start" in new.trace()


def test_attach_state():
    with Session() as s:
        rp = s.remote(amptest.elf_entry(amptest.fw(amptest.VUART_HOSTTABLE)), start=False)
        assert rp.state == "attached"
        rp.shutdown()
        assert rp.state == "offline"


def test_attach_outside_the_remotes_memory_is_refused():
    # checked against the platform's memory map, before anything runs
    with Session() as s:
        s.endpoint(ECHO, Collector())
        for bogus in (0xDEAD0000, 0, 2**32):
            e = expect_raises(OSError, openamp.RemoteProc, bogus, errno=amptest.ERANGE)
            amptest.readable(e, "outside the remote's memory")


def test_attach_to_a_loaded_image():
    # RemoteProc(path) puts the image in the core's memory; RemoteProc(entry)
    # takes over the core and runs what is there (on the host's resource
    # table, as nothing tells it where the image's own one is)
    path = amptest.fw(amptest.VUART_HOSTTABLE)
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        loader = s.remote(amptest.VUART_HOSTTABLE, start=False)
        assert loader.state == "ready"
        rp = s.remote(amptest.elf_entry(path), start=False)
        assert rp.state == "attached"
        assert loader.state == "offline"  # replaced
        rp.start()
        assert amptest.wait_until(lambda: ept.is_ready() or rp.state != "running", 5)
        assert rp.state == "running", "attached image did not run: %s" % rp.state
        wait_ready(ept)
        _echo(ept, cb, b"attached")
        assert "virtual_uart_hosttable: start" in rp.trace()


def test_stop_start_shutdown_cycles():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        rp = s.remote()
        for i in range(20):
            wait_ready(ept)
            _echo(ept, cb, ("cycle %d" % i).encode())
            if i % 2:
                rp.stop()
                assert rp.state == "stopped" and not ept.is_ready()
                rp.start()
            else:
                rp.shutdown()
                assert rp.state == "offline" and not ept.is_ready()
                rp = s.remote()
            assert rp.state == "running"
        wait_ready(ept)
        _echo(ept, cb, b"last")
        amptest.quiescent()


def test_dropping_the_remoteproc_shuts_it_down():
    # the finaliser is shutdown()
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        rp = openamp.RemoteProc(amptest.fw(amptest.VUART))
        rp.start()
        wait_ready(ept)
        _echo(ept, cb, b"alive")
        rp = None
        gc.collect()
        assert amptest.wait_until(lambda: not ept.is_ready(), 2), "remote still up after collection"
        amptest.expect_raises(OSError, ept.send, b"x", timeout=0, errno=amptest.ENOTCONN)
        kids = amptest.vcore_children()
        assert not kids, "virtual core still running: %r" % (kids,)
        # and a new one works
        s.remote()
        wait_ready(ept)
        _echo(ept, cb, b"new remote")

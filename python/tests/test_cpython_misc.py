# CPython only: pathlib paths, refcount-timed finalisers, context
# managers, repr, subclassing, exception classes.
import gc
import pathlib

import amptest
import openamp
from amptest import ECHO, Collector, Session, wait_ready


def test_remoteproc_from_pathlib_and_bytes():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        for entry in (pathlib.Path(amptest.fw(amptest.VUART)), amptest.fw(amptest.VUART).encode()):
            rp = s.adopt(openamp.RemoteProc(entry))
            assert rp.state == "ready"
            rp.start()
            wait_ready(ept)
            cb.clear()
            ept.send(b"path")
            assert cb.wait(1)
            rp.shutdown()
        amptest.expect_raises(FileNotFoundError, openamp.RemoteProc, pathlib.Path("/nonexistent.elf"))


def test_del_shuts_the_remote_down_at_once():
    # refcounting: the finaliser runs when the last reference goes
    with Session() as s:
        ept = s.endpoint(ECHO, Collector())
        rp = openamp.RemoteProc(amptest.fw(amptest.VUART))
        rp.start()
        wait_ready(ept)
        assert len(amptest.vcore_children()) == 1
        gc.disable()
        try:
            del rp
            assert amptest.vcore_children() == []
            assert not ept.is_ready()
        finally:
            gc.enable()


def test_replaced_remoteproc_finaliser_leaves_the_new_one_alone():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        old = openamp.RemoteProc(amptest.fw(amptest.VUART))
        new = s.remote(amptest.VUART)
        del old
        gc.collect()
        assert new.state == "running"
        wait_ready(ept)
        ept.send(b"alive")
        assert cb.wait(1)


def test_endpoint_context_manager():
    with Session() as s:
        s.remote()
        with openamp.Endpoint(ECHO, None) as ept:
            wait_ready(ept)
            ept.send(b"ctx")
            assert ept.recv(timeout=2000) == b"ctx"
        amptest.expect_raises(OSError, ept.send, b"x", errno=amptest.EBADF)


def test_endpoint_repr_and_attributes():
    with Session() as s:
        ept = s.endpoint(ECHO, None, src=0x900)
        assert ept.name == ECHO and ept.src == 0x900 and ept.dest == openamp.ENDPOINT_ADDR_ANY
        r = repr(ept)
        assert ECHO in r and "2304" in r
        s.remote()
        wait_ready(ept)
        assert str(ept.dest) in repr(ept)
        ept.deinit()
        assert "deinit" in repr(ept)


def test_endpoint_subclass():
    class Tagged(openamp.Endpoint):
        def tagged_send(self, data):
            return self.send(b"[" + data + b"]")

    with Session() as s:
        cb = Collector()
        ept = s.adopt(Tagged(ECHO, cb))
        s.remote()
        wait_ready(ept)
        assert ept.tagged_send(b"sub") == 5
        assert cb.wait(1)
        assert cb.msgs == [b"[sub]"]


def test_exception_classes():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        amptest.expect_raises(FileNotFoundError, openamp.RemoteProc, "/nonexistent.elf")
        s.remote()
        wait_ready(ept)
        amptest.expect_raises(TimeoutError, ept.recv, timeout=10)
        amptest.expect_raises(BlockingIOError, ept.recv, timeout=0)
        ept.deinit()
        e = amptest.expect_raises(OSError, ept.recv)
        assert type(e) is OSError and e.errno == amptest.EBADF


def test_address_53_is_the_name_services():
    with Session() as s:
        amptest.expect_raises(ValueError, openamp.Endpoint, ECHO, None, dest=53)
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        for kw in ({"dest": 53}, {"src": 53}):
            e = amptest.expect_raises(ValueError, ept.send, b"x", **kw)
            amptest.readable(e, "53", "name service")
        ept.send(b"ok")
        assert ept.recv(timeout=5000) == b"ok"


def test_remoteproc_addresses_wider_than_any_memory_map():
    with Session() as s:
        s.endpoint(ECHO, None)
        for bogus in (2**63, 2**64, 2**70):
            e = amptest.expect_raises(OSError, openamp.RemoteProc, bogus, errno=amptest.ERANGE)
            amptest.readable(e, "outside the remote's memory")
        amptest.expect_raises(ValueError, openamp.RemoteProc, -1)

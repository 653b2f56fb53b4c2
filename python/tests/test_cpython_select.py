# CPython only: select.select and selectors on Endpoint objects.
import select
import selectors

from amptest import ECHO, Session, wait_ready


def _queue(s, name=ECHO, dest=None):
    if dest is None:
        ept = s.endpoint(name, None)
        s.remote()
        wait_ready(ept)
    else:
        ept = s.endpoint(name, None, dest=dest)
    return ept


def test_select_select():
    with Session() as s:
        ept = _queue(s)
        assert select.select([ept], [], [], 0) == ([], [], [])
        ept.send(b"x")
        r, w, x = select.select([ept], [], [], 2)
        assert r == [ept]
        assert ept.recv(timeout=0) == b"x"
        assert select.select([ept], [], [], 0)[0] == []


def test_selectors_several_endpoints():
    with Session() as s:
        a = _queue(s)
        b = _queue(s, "sel-b", dest=a.dest)
        c = _queue(s, "sel-c", dest=a.dest)
        sel = selectors.DefaultSelector()
        try:
            for e in (a, b, c):
                sel.register(e, selectors.EVENT_READ, e.name)
            assert sel.select(0) == []
            b.send(b"to b")
            c.send(b"to c")
            got = {}
            for _ in range(100):
                for key, ev in sel.select(1):
                    got[key.data] = key.fileobj.recv(timeout=0)
                if len(got) == 2:
                    break
            assert got == {"sel-b": b"to b", "sel-c": b"to c"}
            assert sel.select(0) == []
        finally:
            sel.close()

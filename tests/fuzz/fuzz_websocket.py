"""atheris harness: the RFC 6455 frame parser, with and without permessage-deflate (rows C4, E8).

The input is fed in fuzzer-chosen chunks; small limits make the size,
fragment and inflate caps reachable. Invariant: events or RemoteProtocolError
(whose close code is a valid one), nothing else; a message never exceeds the cap.
Run: ``python tests/fuzz/fuzz_websocket.py -max_total_time=600`` (see README.md).
"""
import sys

import atheris

with atheris.instrument_imports():
    from siothread.errors import RemoteProtocolError
    from siothread.protocol import websocket as wsproto

MAX = 2048


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    server = fdp.ConsumeBool()
    deflate = None
    if fdp.ConsumeBool():
        template = wsproto.PerMessageDeflate()
        if server:
            deflate = template.negotiate("permessage-deflate")[1]  # type: ignore[index]
        else:
            deflate = template.accept_response("permessage-deflate")
    parser = wsproto.FrameParser(expect_masked=server, max_message_size=MAX,
                                 max_fragments=fdp.ConsumeIntInRange(1, 16), deflate=deflate)
    try:
        while fdp.remaining_bytes():
            parser.feed(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 300)))
            for event in parser.events():
                if isinstance(event, wsproto.Message):
                    assert len(event.data) <= MAX * 4  # str length in characters, bytes in bytes
    except RemoteProtocolError as exc:
        assert 1000 <= exc.close_code <= 1011, exc.close_code


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

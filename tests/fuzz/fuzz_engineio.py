"""atheris harness: Engine.IO payload and packet decoding (row C4).

Invariant: any input decodes or raises RemoteProtocolError, nothing else.
The first byte selects the entry point and how the rest is typed (bytes / str).
Run: ``python tests/fuzz/fuzz_engineio.py -max_total_time=600`` (see README.md).
"""
import sys

import atheris

with atheris.instrument_imports():
    from siothread.errors import RemoteProtocolError
    from siothread.protocol import engineio


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 4)
    max_packets = fdp.ConsumeIntInRange(1, 20)
    try:
        if mode == 0:
            engineio.decode_payload(fdp.ConsumeBytes(fdp.remaining_bytes()), max_packets=max_packets)
        elif mode == 1:
            engineio.decode_payload(fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes()), max_packets=max_packets)
        elif mode == 2:
            engineio.decode_packet(fdp.ConsumeUnicode(fdp.remaining_bytes()))
        elif mode == 3:
            engineio.decode_ws_text(fdp.ConsumeUnicode(fdp.remaining_bytes()), max_packets=max_packets)
        else:
            # round trip: whatever decodes re-encodes to something that decodes to the same packets
            packets = engineio.decode_payload(fdp.ConsumeBytes(fdp.remaining_bytes()), max_packets=max_packets)
            again = engineio.decode_payload(engineio.encode_payload(packets), max_packets=max_packets)
            assert again == packets, (packets, again)
    except RemoteProtocolError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

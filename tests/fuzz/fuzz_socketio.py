"""atheris harness: the incremental Socket.IO decoder (rows C3/C4).

The input is cut into messages; the first byte of each selects text or binary
(an attachment), as one connection would deliver them. Invariant: ``feed``
returns a Packet or None, or raises RemoteProtocolError, nothing else; after an
error the decoder is still usable (a valid CONNECT decodes).
Run: ``python tests/fuzz/fuzz_socketio.py -max_total_time=600`` (see README.md).
"""
import sys

import atheris

with atheris.instrument_imports():
    from siothread.errors import RemoteProtocolError
    from siothread.protocol import socketio

LIMITS = socketio.Limits(max_attachments=4, max_attachment_bytes=4096, max_json_depth=16)


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    role = "client" if fdp.ConsumeBool() else "server"
    decoder = socketio.Decoder(LIMITS, role=role)
    while fdp.remaining_bytes():
        size = fdp.ConsumeIntInRange(0, 200)
        if fdp.ConsumeBool():
            message = fdp.ConsumeBytes(size)
        else:
            message = fdp.ConsumeUnicode(size)
        try:
            result = decoder.feed(message)
        except RemoteProtocolError:
            assert not decoder.awaiting_attachments
            recovered = decoder.feed("0" if role == "server" else '0{"sid":"x"}')
            assert recovered is not None and recovered.type == socketio.PacketType.CONNECT
            continue
        assert result is None or isinstance(result, socketio.Packet)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

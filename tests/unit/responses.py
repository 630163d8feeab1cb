"""A stand-in for the urllib3 response `Api.open` returns (body not read yet), for the fakes of
the client in the snapshot's unit tests. It records how far it was read and how it was let go."""

from __future__ import annotations

import io


class Body(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.size = len(data)
        self.released = False   # given back to the pool (release_conn)
        self.cut = False        # closed before its end: the connection dropped, not reused
        self._read_at_close: int | None = None

    @property
    def read_whole(self) -> bool:
        return (self.tell() if self._read_at_close is None else self._read_at_close) == self.size

    def close(self) -> None:
        if self._read_at_close is None:
            self._read_at_close = self.tell()
            self.cut = self._read_at_close < self.size
        super().close()

    def release_conn(self) -> None:
        self.released = True

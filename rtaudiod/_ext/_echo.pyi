from typing import Literal, TypedDict

from typing_extensions import Buffer  # collections.abc.Buffer is 3.12+; we support 3.11

ENGINES: tuple[str, ...]
DEFAULT_ENGINE: str
CONVERGED_DB: float

class EchoFigures(TypedDict):
    erle_db: float
    delay_ms: float
    delay_locked: bool
    converged: bool
    blocks: int
    echo_blocks: int

class EchoCanceller:
    rate: int
    engine: str
    block_frames: int
    def __init__(self, rate: int, engine: Literal["speex", "webrtc", "webrtc+speex"] | None = None, *, tail_ms: int = 128,
                 max_delay_ms: int = 500, delay_ms: int | None = None, suppress: bool = True,
                 drift_ppm: float = 0.0) -> None: ...
    def set_drift(self, ppm: float) -> None: ...
    def process(self, mic: Buffer, ref: Buffer, out: Buffer | None = None) -> bytes | None: ...
    def reset(self) -> None: ...
    def figures(self) -> EchoFigures: ...

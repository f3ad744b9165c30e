"""Images for the model (GA `input_image`): what is accepted, checked before anything is sent.

The service takes an image as a base64 data URL with an image MIME type, PNG or JPEG. The type is read from the
file's own first bytes (its magic number), never from a name or a claim, so a text file or a truncated upload is
refused here with a clear message instead of by the service after the upload. `MAX_IMAGE_BYTES` bounds one image:
a camera frame as JPEG is tens to hundreds of KiB, and an image goes up in one WebSocket message ahead of every
audio frame behind it, so a multi-megabyte one would stall the microphone's uplink for seconds on a slow link.
"""

from __future__ import annotations

from rtaudiod.codecs import b64encode

__all__ = ["DETAILS", "MAX_IMAGE_BYTES", "image_data_url", "image_type"]

#: The largest image accepted (bytes of the file; its base64 is 4/3 of that).
MAX_IMAGE_BYTES = 2 * 1024 * 1024
#: `detail`: how closely the model looks (the service's values).
DETAILS = ("auto", "low", "high")
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def image_type(data: bytes) -> str:
    """The MIME type of a JPEG or PNG, from its first bytes; ValueError for anything else."""
    for magic, mime in _MAGIC:
        if data[:len(magic)] == magic:
            return mime
    if not data:
        raise ValueError("the image is empty")
    raise ValueError(f"not a JPEG or PNG image (it starts with {data[:8].hex(' ')}); convert it first, e.g. "
                     "`convert in.webp out.jpg`")


def image_data_url(data: bytes) -> str:
    """`data:image/...;base64,...` of a JPEG or PNG; ValueError when it is neither or over `MAX_IMAGE_BYTES`."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"the image has {len(data)} bytes, over the limit of {MAX_IMAGE_BYTES} "
                         f"({MAX_IMAGE_BYTES // 1024} KiB): scale it down or compress it")
    mime = image_type(data)
    return f"data:{mime};base64,{b64encode(data).decode('ascii')}"

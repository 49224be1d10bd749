"""A video jitter buffer for aiortc that hands a frame to the decoder as soon as its last packet is in.

aiortc's own buffer releases a frame when the first packet of the next frame arrives, one camera frame interval
(33 ms at 30 frames/s) after the frame was complete. Senders mark the last packet of each video frame with the
RTP marker bit (RFC 3550; VP8: RFC 7741, H.264: RFC 6184), so a frame whose packets are all in, in sequence, up to
the marked one, is complete. A frame whose marked packet was lost is still released when the next frame begins.
"""

from __future__ import annotations

from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame

#: aiortc's video buffer size (packets), kept.
CAPACITY = 512


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, releasing each frame at its marked last packet."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(capacity=capacity, is_video=True)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None
            if packets and packet.timestamp != packets[0].timestamp:
                return self._release(packets, count)  # the next frame began: this one is as complete as it gets
            packets.append(packet)
            if packet.marker:
                return self._release(packets, count + 1)
        return None

    def _release(self, packets: list[Any], count: int) -> JitterFrame:
        self.remove(count)
        return JitterFrame(data=b"".join(packet._data for packet in packets), timestamp=packets[0].timestamp)


def release_frames_early(receiver: Any) -> bool:
    """Give an aiortc video receiver a :class:`MarkerJitterBuffer` (before any packet arrived); False where this
    aiortc keeps its buffer elsewhere, leaving the receiver as it was."""
    name = "_RTCRtpReceiver__jitter_buffer"
    if not isinstance(getattr(receiver, name, None), JitterBuffer) or getattr(receiver, "_RTCRtpReceiver__kind",
                                                                               "video") != "video":
        return False
    setattr(receiver, name, MarkerJitterBuffer())
    return True

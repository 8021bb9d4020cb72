"""Multi-object tracking: a track id per object across frames, per camera (the stage after decode).

    tracker = ByteTracker(TrackSettings(track_buffer=30))
    for result in results_of_one_camera:
        update = tracker.update(result.detections.boxes, result.detections.scores, result.detections.class_ids)
        for t in update.tracks: ...          # confirmed tracks seen in this frame, with their detection
        for track_id in update.removed: ...  # tracks lost for longer than the buffer: ended

`bytetrack.py` is the tracker (numpy only); `kalman.py` its motion model; `assign.py` the assignment solver.
"""

from edge_sdk.tracking.base import TrackedBox, Tracker, TrackerUpdate, TrackSettings
from edge_sdk.tracking.bytetrack import ByteTracker

__all__ = ["ByteTracker", "TrackSettings", "TrackedBox", "Tracker", "TrackerUpdate"]

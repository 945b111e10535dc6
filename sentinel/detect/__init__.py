"""Online and batch detectors, calibrated to one [0, 1] score scale.

``build_detector(DetectorConfig)`` makes the detector a watch asks for;
``default`` is the guarded seasonal ensemble (:mod:`sentinel.detect.ensemble`).
"""

from sentinel.detect.base import OnlineDetector
from sentinel.detect.registry import KINDS, build_detector
from sentinel.detect.scores import Scores, StepScores

__all__ = ["KINDS", "OnlineDetector", "Scores", "StepScores", "build_detector"]

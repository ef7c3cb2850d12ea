"""Attack detection: built-in scenarios, leaky buckets, and a sans-I/O engine."""

from shieldwall.agent.detect.buckets import BucketTable, Offence
from shieldwall.agent.detect.config import DetectConfig, Threshold, load_config
from shieldwall.agent.detect.engine import DetectionEngine, Event
from shieldwall.agent.detect.scenarios import SCENARIOS, Scenario

__all__ = [
    "SCENARIOS",
    "BucketTable",
    "DetectConfig",
    "DetectionEngine",
    "Event",
    "Offence",
    "Scenario",
    "Threshold",
    "load_config",
]

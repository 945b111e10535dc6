"""The simulated agent fleet (DESIGN §4): signals, incidents with ground truth, metrics and logs.

``Fleet(agents, seed, step, start, incident_rate)`` is the entry point; see
:mod:`sentinel.fleet.signals` for the signal catalogue and
:mod:`sentinel.fleet.incidents` for the incident kinds.
"""

from sentinel.fleet.incidents import KINDS, Incident, affecting, truth_mask
from sentinel.fleet.model import DEFAULT_START, Fleet
from sentinel.fleet.signals import SIGNALS, Signal

__all__ = ["DEFAULT_START", "KINDS", "SIGNALS", "Fleet", "Incident", "Signal", "affecting", "truth_mask"]

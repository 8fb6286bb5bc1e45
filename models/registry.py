"""Which estimators run for which streams. The one place the pipeline's wiring is decided.

Families are imported lazily so that a session without audio never imports the voice code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..sensors.chunk import StreamInfo, StreamKind
from .base import DyadEstimator, RowEstimator, StreamEstimator
from .config import PipelineConfig

HEART_KINDS = frozenset({StreamKind.ECG, StreamKind.RR, StreamKind.PPG, StreamKind.HR})
EDA_KINDS = frozenset({StreamKind.EDA})
MOVEMENT_KINDS = frozenset({StreamKind.ACC, StreamKind.MOTION, StreamKind.RESP})
VOICE_KINDS = frozenset({StreamKind.PROSODY})
#: Kinds the pipeline routes somewhere; others (markers, temperature) are recorded only.
AUDIO_KINDS = frozenset({StreamKind.AUDIO})


def _heart(participant, streams, config):
    from .heart import HeartEstimator

    return HeartEstimator(participant, streams, config)


def _eda(participant, streams, config):
    from .eda import EdaEstimator

    return EdaEstimator(participant, streams, config)


def _movement(participant, streams, config):
    from .movement import MovementEstimator

    return MovementEstimator(participant, streams, config)


def _voice(participant, streams, config):
    from .voice import VoiceEstimator

    return VoiceEstimator(participant, streams, config)


#: Streams a family also reads or needs to know of when it is built for a person, never a reason to
#: build it: the heart estimator's PPG beats are gated by the same person's accelerometer
#: (models/beats.MotionGate), and a breathing belt (MovementEstimator's ``breathing_rpm``) stops it
#: deriving breathing from the beats (it is not fed the belt's samples: ``HeartEstimator.accepts``).
CONTEXT_KINDS: dict[Callable, frozenset] = {_heart: frozenset({StreamKind.ACC, StreamKind.RESP})}


@dataclass
class Registry:
    """Factories of the estimators; tests can swap any of them for a fake."""

    stream_families: tuple[tuple[frozenset, Callable[..., StreamEstimator]], ...] = (
        (HEART_KINDS, _heart),
        (EDA_KINDS, _eda),
        (MOVEMENT_KINDS, _movement),
        (VOICE_KINDS, _voice),
    )

    def stream_estimators(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> list[StreamEstimator]:
        """One person's stream estimators, one per family whose stream kinds they have.

        Parameters
        ----------
        participant : str
            The person's role.
        streams : list of StreamInfo
            That person's streams.
        config : PipelineConfig
            The session's configuration.
        """
        out = []
        for kinds, factory in self.stream_families:
            mine = [s for s in streams if s.kind in kinds]
            if mine:
                mine += [s for s in streams if s.kind in CONTEXT_KINDS.get(factory, ()) and s not in mine]
                out.append(factory(participant, mine, config))
        return out

    def row_estimators(self, participant: str, config: PipelineConfig,
                       streams: list[StreamInfo] = ()) -> list[RowEstimator]:
        """One person's row estimators, in the order they run (autonomic, then tolerance).

        ``streams`` tells the tolerance where ``movement`` comes from (an accelerometer in mg or a
        video's motion share), so that it judges "low movement" on the right scale.
        """
        from .autonomic import AutonomicEstimator
        from .movement import movement_source
        from .tolerance import ToleranceEstimator

        # the tolerance judges "low movement" by what feeds the column (mg vs a video share)
        kind = movement_source(s.kind for s in streams)
        return [AutonomicEstimator(participant, config), ToleranceEstimator(participant, config, kind)]

    def dyad_estimators(self, participants: list[str], config: PipelineConfig) -> list[DyadEstimator]:
        """The dyad estimators: one pipeline for the first two participants, none for a single person."""
        if len(participants) < 2:
            return []
        from .dyad import DyadPipeline

        return [DyadPipeline(participants, config)]

    def provisional_heart(self, participant: str, streams: list[StreamInfo], config: PipelineConfig):
        """The person's provisional heart values (live viewers only), or None without heart streams."""
        mine = [s for s in streams if s.kind in HEART_KINDS]
        if not mine:
            return None
        from .provisional_heart import ProvisionalHeart

        return ProvisionalHeart(participant, mine, config)

    def audio_frontend(self, audio_streams: list[StreamInfo], config: PipelineConfig):
        """The shared front end that turns the sessions' AUDIO streams into per-person PROSODY frames."""
        from .audio_frontend import AudioFrontEnd

        return AudioFrontEnd(audio_streams, config)


DEFAULT_REGISTRY = Registry()

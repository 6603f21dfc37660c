"""Instrumented pathway charts: which transitions fire, what each guard answers, overlaps.

python-statemachine tells listeners about transitions but not about guard outcomes, so
:func:`instrument` builds a subclass of a chart class whose guard methods report each
answer (with the transition being tried) to an :class:`Exposure`, and whose ``send``
first evaluates every guarded alternative of the event, so that two guarded transitions of
one event from one state that are both enabled towards different targets (which
python-statemachine would resolve silently by document order) are seen. The subclass
shares the states and transitions of the chart class and changes no behaviour: the chart
decides exactly as before.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pathway.structure import ChartModel, TransitionInfo

__all__ = [
    "Exposure",
    "Overlap",
    "configure",
    "instrument",
    "probe_of",
    "record_recommendations",
]


@dataclass(frozen=True)
class Overlap:
    """Two or more guarded transitions of one event from one state, enabled at once.

    Attributes:
        event: the event sent.
        source: the state whose transitions compete.
        transitions: indexes (in :class:`~pathway.structure.ChartModel`) of the enabled ones,
            in document order; python-statemachine takes the first.
        configuration: the active states when the event was sent.
    """

    event: str
    source: str
    transitions: tuple[int, ...]
    configuration: tuple[str, ...]


@dataclass
class Exposure:
    """What one or more courses exercised (the raw data of coverage).

    Attributes:
        transitions: how often each transition (by index) was taken.
        guards: how often each guard answered: ``(transition index, guard name, outcome)``.
        overlaps: overlapping guarded transitions met, in order.
        rules: how often each rule id was cited by a recommendation offered after a step.
        permissions: how often each clinician action's rule check answered, after a step,
            ``(action, allowed)``: offered (true) or possible in the state but refused
            (false).
        unattributed_guards: guard answers that could not be tied to a transition.
    """

    transitions: Counter[int] = field(default_factory=Counter)
    guards: Counter[tuple[int, str, bool]] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    permissions: Counter[tuple[str, bool]] = field(default_factory=Counter)
    overlaps: list[Overlap] = field(default_factory=list)
    unattributed_guards: int = 0

    def merge(self, other: Exposure) -> None:
        """Add ``other``'s counts to this one."""
        self.transitions.update(other.transitions)
        self.guards.update(other.guards)
        self.rules.update(other.rules)
        self.permissions.update(other.permissions)
        self.overlaps.extend(other.overlaps)
        self.unattributed_guards += other.unattributed_guards


class _Probe:
    """Per-instance collector behind an instrumented chart."""

    def __init__(self, model: ChartModel) -> None:
        self.model = model
        self.index = {
            (id(obj), t.event): t.index
            for t, obj in zip(model.transitions, model.objects, strict=True)
        }
        self.exposure = Exposure()
        self.recording = True
        self.check_overlaps = True
        self.record_recommendations = True

    def lookup(self, transition: Any, event: Any) -> int | None:
        return self.index.get((id(transition), str(event)))

    def guard(self, transition: Any, event: Any, name: str, outcome: bool) -> None:
        if not self.recording:
            return
        index = self.lookup(transition, event)
        if index is None:
            self.exposure.unattributed_guards += 1
            return
        self.exposure.guards[(index, name, outcome)] += 1

    def taken(self, transition: Any, event: Any) -> None:
        index = self.lookup(transition, event)
        if index is not None:
            self.exposure.transitions[index] += 1


class _TransitionListener:
    """python-statemachine listener that counts the transitions taken."""

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe

    def after_transition(self, event: Any, transition: Any) -> None:
        if str(event) != "__initial__":
            self.probe.taken(transition, event)


class _RecommendationListener:
    """Step listener: the rule ids of the recommendations offered after each step."""

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe

    def after_step(self, pathway: Any, step: Any) -> None:
        if not self.probe.record_recommendations or pathway.is_dead:
            return
        record_recommendations(self.probe.exposure, pathway)


def record_recommendations(exposure: Exposure, chart: Any) -> list[Any]:
    """Count the recommendations offered now (their rules and the permission outcomes).

    Returns:
        The recommendations, ranked.
    """
    recs: list[Any] = chart.recommendations()
    offered = {r.action for r in recs}
    for rec in recs:
        exposure.rules.update(rec.rule_ids)
    possible = {e.id for e in chart.allowed_events} & set(chart.guideline.actions)
    for action in possible:
        exposure.permissions[(action, action in offered)] += 1
    return recs


def _wrap_guard(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    sig = inspect.signature(original)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    wanted = {p.name for p in params}

    def guard(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = kwargs if takes_all else {k: v for k, v in kwargs.items() if k in wanted}
        value = original(self, **call)
        probe: _Probe | None = self.__dict__.get("_verification_probe")
        if probe is not None:
            probe.guard(kwargs.get("transition"), kwargs.get("event"), name, bool(value))
        return value

    guard.__name__ = name
    guard.__qualname__ = f"instrumented.{name}"
    guard.__doc__ = original.__doc__
    return guard


def _enabled(chart: Any, transition: Any, kwargs: dict[str, Any]) -> bool:
    """Evaluate every guard of ``transition`` now, as the engine would (without recording)."""
    extended = dict(kwargs)
    extended.update(
        machine=chart,
        model=chart.model,
        event=getattr(chart, str(kwargs.get("_event"))),
        source=transition.source,
        target=transition.target,
        state=transition.source,
        transition=transition,
    )
    extended.pop("_event", None)
    return bool(chart._callbacks.all(transition.cond.key, **extended))


def _find_overlaps(chart: Any, probe: _Probe, event: str, kwargs: dict[str, Any]) -> None:
    model = probe.model
    active = list(chart.configuration)
    for state in active:
        guarded: list[TransitionInfo] = []
        for t in model.transitions_from(state.id, event):
            if not t.guards:
                continue
            obj = model.objects[t.index]
            if _enabled(chart, obj, {**kwargs, "_event": event}):
                guarded.append(t)
        if len({t.target for t in guarded}) > 1:
            probe.exposure.overlaps.append(
                Overlap(
                    event,
                    state.id,
                    tuple(t.index for t in guarded),
                    tuple(sorted(str(v) for v in chart.configuration_values)),
                )
            )


def _make_init(base: type[Any], model: ChartModel) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        probe = _Probe(model)
        self.__dict__["_verification_probe"] = probe
        base.__init__(self, *args, **kwargs)
        self.add_listener(_TransitionListener(probe))
        self.add_step_listener(_RecommendationListener(probe))

    return __init__


def _make_send(base: type[Any]) -> Callable[..., Any]:
    def send(self: Any, event: str, *args: Any, **kwargs: Any) -> Any:
        probe: _Probe | None = self.__dict__.get("_verification_probe")
        if probe is not None and probe.check_overlaps and not kwargs.get("deviate"):
            probe.recording = False
            try:
                _find_overlaps(self, probe, event, kwargs)
            except Exception:
                pass
            finally:
                probe.recording = True
        return base.send(self, event, *args, **kwargs)

    return send


_CACHE: dict[type[Any], type[Any]] = {}


def instrument(chart_class: type[Any]) -> type[Any]:
    """A subclass of ``chart_class`` that records transitions, guard outcomes and overlaps.

    Instances behave exactly like ``chart_class`` instances; read what they exercised with
    :func:`probe_of`. The subclass is built once per chart class.
    """
    cached = _CACHE.get(chart_class)
    if cached is not None:
        return cached
    model = ChartModel.of(chart_class)
    namespace: dict[str, Any] = {
        "__doc__": f"{chart_class.__name__} with guard and transition instrumentation.",
        "__module__": __name__,
        "__init__": _make_init(chart_class, model),
        "send": _make_send(chart_class),
    }
    for name in sorted({n for t in model.transitions for n in t.guard_names}):
        original = getattr(chart_class, name, None)
        if callable(original):
            namespace[name] = _wrap_guard(name, original)
    sub = type(f"Instrumented{chart_class.__name__}", (chart_class,), namespace)
    _CACHE[chart_class] = sub
    return sub


def probe_of(chart: Any) -> Exposure:
    """What an instrumented chart has exercised so far (its live :class:`Exposure`)."""
    probe: _Probe | None = chart.__dict__.get("_verification_probe")
    if probe is None:
        raise TypeError(f"{type(chart).__name__} is not instrumented; use instrument()")
    return probe.exposure


def configure(
    chart: Any, *, overlaps: bool | None = None, recommendations: bool | None = None
) -> None:
    """Turn the overlap search before each event, or the recording of the recommendations
    after each step, on or off for one instrumented chart."""
    probe: _Probe | None = chart.__dict__.get("_verification_probe")
    if probe is None:
        return
    if overlaps is not None:
        probe.check_overlaps = overlaps
    if recommendations is not None:
        probe.record_recommendations = recommendations

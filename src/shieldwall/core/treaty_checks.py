"""Treaty rules that relate several keys, checked once every key is valid on its own.

No I/O. :func:`cross_check` returns the first problem as a message that names the keys,
their values and what to change, or ``""``; :func:`~shieldwall.core.treaty.load_treaty`
refuses the treaty with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shieldwall.core.treaty import Treaty


def cross_check(t: Treaty) -> str:
    """Rules relating several keys; the first problem found, or ''."""
    tg = t.targets
    for v, prefix, widen, limit in (
        (6, tg.prefix_v6, tg.widen_v6, tg.max_range_v6),
        (4, tg.prefix_v4, tg.widen_v4, tg.max_range_v4),
    ):
        bits = 128 if v == 6 else 32
        if widen and widen[0] >= prefix:
            return (
                f"targets.widen_v{v} = {list(widen)} must be wider (smaller) than "
                f"targets.prefix_v{v} = {prefix}: list prefix lengths below {prefix}"
            )
        if prefix < bits and prefix < limit:
            return (
                f"targets.prefix_v{v} = {prefix} is broader than targets.max_range_v{v} = "
                f"{limit}: raise prefix_v{v} or lower max_range_v{v}"
            )
        if widen and widen[-1] < limit:
            return (
                f"targets.widen_v{v} = {list(widen)} reaches /{widen[-1]}, broader than "
                f"targets.max_range_v{v} = {limit}: stop at /{limit}"
            )
        if widen and any(w > bits for w in widen):
            return f"targets.widen_v{v} = {list(widen)} has prefix lengths above {bits}"
    rep = t.reputation
    if rep.floor > rep.maximum:
        return (
            f"reputation.floor = {rep.floor} is above reputation.maximum = {rep.maximum}: "
            "lower floor"
        )
    if not rep.floor <= rep.initial <= rep.maximum:
        return (
            f"reputation.initial = {rep.initial} must lie between reputation.floor "
            f"({rep.floor}) and reputation.maximum ({rep.maximum})"
        )
    if t.collective != "none" and t.reputation_threshold > rep.maximum:
        return (
            f"collective.reputation_threshold = {t.reputation_threshold} is above "
            f"reputation.maximum = {rep.maximum}: no member could ever count; lower it"
        )
    if 0 < t.records.retention < 86400:
        return (
            f"records.retention = {t.records.retention:g}s is shorter than a day: members "
            "offline for longer would all need a full resynchronisation; keep at least "
            '"1d", or 0 to keep records forever'
        )
    if t.consultation.enabled and t.consultation.timeout > t.window:
        return (
            f"consultation.timeout = {t.consultation.timeout:g}s is longer than "
            f"collective.window = {t.window:g}s: reports would be forgotten while the "
            "consultation is open; raise window or lower timeout"
        )
    if t.unanimity:
        if t.collective == "none":
            return (
                "collective.unanimity = true needs collective action: set collective.mode "
                'to "automatic" or "recommend"'
            )
        if not t.consultation.enabled:
            return (
                "collective.unanimity = true needs consultation.enabled = true: members "
                "are consulted until every one has reported"
            )
    if t.deliberation > 0:
        if not t.unanimity:
            return (
                f"collective.deliberation = {t.deliberation:g}s only applies with "
                "collective.unanimity = true: remove it or enable unanimity"
            )
        if t.deliberation >= t.consultation.timeout:
            return (
                f"collective.deliberation = {t.deliberation:g}s must be shorter than "
                f"consultation.timeout = {t.consultation.timeout:g}s"
            )
    inv = t.invocation
    if inv.enabled:
        if t.collective == "none":
            return (
                'invocation.enabled = true has no effect when collective.mode = "none": '
                "disable invocation or choose a collective mode"
            )
        if inv.period < inv.duration:
            return (
                f"invocation.period = {inv.period:g}s is shorter than invocation.duration "
                f"= {inv.duration:g}s: lengthen period"
            )
    for i, rung in enumerate(t.ladder.rungs, 1):
        if rung.duration > t.ladder.max_duration:
            return (
                f"ladder rung {i} lasts {rung.duration:g}s, beyond ladder.max_duration = "
                f"{t.ladder.max_duration:g}s: shorten the rung or raise max_duration"
            )
    if t.veto.permanent and not t.veto.enabled:
        return "veto.permanent lists members but veto.enabled = false: set enabled = true"
    if t.veto.enabled and t.collective == "none":
        return (
            'veto.enabled = true has nothing to veto when collective.mode = "none": '
            "disable the veto or choose a collective mode"
        )
    if t.burden.policy == "delay" and t.burden.delay <= 0:
        return 'burden.policy = "delay" needs burden.delay above 0 seconds, e.g. delay = "30s"'
    return ""

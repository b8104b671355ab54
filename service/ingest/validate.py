"""One row's raw values checked and turned into a staging tuple, or rejected with every field at fault."""
from __future__ import annotations

import re
from datetime import datetime

from schema.instants import EARLIEST, END, INSTANT_RANGE
from service.ingest.result import Reject

CHANNELS = frozenset(("CHAT", "EMAIL", "SMS", "VOICE", "SOCIAL"))
OUTCOMES = frozenset(("AI_RESOLVED", "ESCALATED", "ABANDONED", "OPEN"))
COLUMNS = ("externalId", "deploymentKey", "deploymentId", "topic", "channel", "startedAt", "aiEngaged",
           "outcome", "resolvedAt", "reopenedAt")
REQUIRED_COLUMNS = ("externalId", "topic", "channel", "startedAt", "aiEngaged", "outcome")
MAX_EXTERNAL_ID = 200
_topic_key = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z").match
_fromiso = datetime.fromisoformat
_BOOLS = {True: True, False: False, "true": True, "false": False, "TRUE": True, "FALSE": False,
          "True": True, "False": False, "1": True, "0": False}


def _timestamp(value, name: str) -> datetime:
    if type(value) is not str:
        raise Reject(f"{name} must be an ISO 8601 timestamp string", name)
    try:
        ts = _fromiso(value)
    except ValueError:
        raise Reject(f"{name} is not an ISO 8601 timestamp: {value[:40]!r}", name) from None
    if ts.tzinfo is None:
        raise Reject(f"{name} has no UTC offset; naive timestamps are ambiguous (add Z or +hh:mm)", name)
    # compared as instants (no UTC conversion, which overflows for year 1 or 9999 with an offset)
    if not EARLIEST <= ts < END:
        raise Reject(f"{name} is out of range: {value[:40]!r}; instants must be {INSTANT_RANGE}", name,
                     "OUT_OF_RANGE")
    return ts


class RowValidator:
    """Turns one row's raw values into a staging tuple, or raises Reject with the reason."""

    def __init__(self, deployments: list[tuple[int, str]], topics: list[str]):
        self.by_key = {key: dep_id for dep_id, key in deployments}
        # deploymentId arrives as a JSON number or a CSV string
        self.by_id: dict[int | str, int] = {dep_id: dep_id for dep_id, _ in deployments}
        self.by_id.update({str(dep_id): dep_id for dep_id, _ in deployments})
        self.topics = set(topics)  # known or already validated keys
        self.new_topics: set[str] = set()

    def row(self, line, ext, dkey, did, topic, channel, started, engaged, outcome, resolved, reopened):
        # The common case runs straight through; every failure raises with its reason.
        if type(ext) is not str or not 0 < len(ext) <= MAX_EXTERNAL_ID or not ext.isprintable():
            ext = self._external_id(ext)
        if dkey:
            dep = self.by_key.get(dkey) if type(dkey) is str else None
            if dep is None:
                raise Reject(f"unknown deployment {str(dkey)[:80]!r}", "deploymentKey", "UNKNOWN")
            if did is not None and did != "" and self._deployment_id(did) != dep:
                raise Reject("deploymentKey and deploymentId name different deployments", "deploymentId",
                             "INCONSISTENT")
        elif did is not None and did != "":
            dep = self._deployment_id(did)
        else:
            raise Reject("missing deploymentKey or deploymentId", "deploymentKey", "MISSING")
        if topic not in self.topics:
            self._topic(topic)
        if channel not in CHANNELS:
            raise Reject(f"channel must be one of {', '.join(sorted(CHANNELS))}; got {str(channel)[:40]!r}",
                         "channel", "MISSING" if channel in (None, "") else "INVALID")
        st = _timestamp(started, "startedAt") if started else _missing("startedAt")
        ae = _BOOLS.get(engaged) if type(engaged) in (bool, str) else None
        if ae is None:
            if engaged in (None, ""):
                raise Reject("missing aiEngaged", "aiEngaged", "MISSING")
            raise Reject("aiEngaged must be true or false", "aiEngaged")
        if outcome not in OUTCOMES:
            if not outcome:
                raise Reject("missing outcome", "outcome", "MISSING")
            raise Reject(f"outcome must be one of {', '.join(sorted(OUTCOMES))}; got {str(outcome)[:40]!r}",
                         "outcome")
        if resolved is None or resolved == "":
            ra = None
        else:
            ra = _timestamp(resolved, "resolvedAt")
            if ra < st:
                raise Reject("resolvedAt is before startedAt", "resolvedAt", "INCONSISTENT")
        if reopened is None or reopened == "":
            rp = None
        else:
            rp = _timestamp(reopened, "reopenedAt")
            if ra is not None:
                if rp < ra:
                    raise Reject("reopenedAt is before resolvedAt", "reopenedAt", "INCONSISTENT")
            elif rp < st:
                raise Reject("reopenedAt is before startedAt", "reopenedAt", "INCONSISTENT")
        if topic not in self.topics:
            # only a valid row may create a topic
            self.topics.add(topic)
            self.new_topics.add(topic)
        return (line, ext, dep, topic, channel, st, ae, outcome, ra, rp)

    def problems(self, line: int, values: tuple) -> tuple[Reject, ...]:
        """Every field at fault in a rejected row, not only the first: `row` runs again with each field
        found at fault replaced by a valid stand-in, until it passes; nothing of the row is kept."""
        current = list(values)
        topics, new_topics = set(self.topics), set(self.new_topics)
        found: list[Reject] = []
        for _ in range(len(current)):
            try:
                self.row(line, *current)
                break
            except Reject as exc:
                if exc.field is None or any(f.field == exc.field for f in found):
                    found.append(exc)
                    break
                found.append(exc)
                self._stand_in(current, exc.field)
        self.topics, self.new_topics = topics, new_topics
        return tuple(found)

    def _stand_in(self, values: list, name: str) -> None:
        some_key = next(iter(self.by_key), None)
        if name == "deploymentKey":
            values[1:3] = [some_key, None]
        elif name == "deploymentId":
            values[2] = None
            if not values[1]:
                values[1] = some_key
        else:
            values[COLUMNS.index(name)] = STAND_INS[name]

    @staticmethod
    def _external_id(ext) -> str:
        if ext is None or ext == "":
            raise Reject("missing externalId", "externalId", "MISSING")
        if type(ext) is int:
            ext = str(ext)
        if type(ext) is not str:
            raise Reject("externalId must be a string", "externalId")
        if len(ext) > MAX_EXTERNAL_ID:
            raise Reject(f"externalId is longer than {MAX_EXTERNAL_ID} characters", "externalId")
        if not ext.isprintable():
            raise Reject("externalId contains control or non-printable characters", "externalId")
        return ext

    def _deployment_id(self, did) -> int:
        dep = self.by_id.get(did) if type(did) in (int, str) else None
        if dep is None:
            raise Reject(f"unknown deployment id {str(did)[:40]!r}", "deploymentId", "UNKNOWN")
        return dep

    def _topic(self, topic) -> None:
        if topic is None or topic == "":
            raise Reject("missing topic", "topic", "MISSING")
        if type(topic) is not str or not _topic_key(topic):
            raise Reject(f"topic must be a key matching [a-z0-9][a-z0-9_-]{{0,62}}; got {str(topic)[:70]!r}", "topic")


# Valid values that replace a faulty field while `RowValidator.problems` looks for the next one.
STAND_INS = {"externalId": "x", "topic": "x", "channel": "CHAT", "startedAt": "1970-01-01T00:00:00+00:00",
             "aiEngaged": True, "outcome": "OPEN", "resolvedAt": None, "reopenedAt": None}


def _missing(name: str):
    raise Reject(f"missing {name}", name, "MISSING")

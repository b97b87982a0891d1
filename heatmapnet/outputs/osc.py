"""OSC over UDP (`output.osc=HOST:PORT`): one bundle per frame, for Max, TouchDesigner, Unity, Godot, Wekinator.

Modelled on TUIO's set/alive pattern, so a lost packet never leaves a ghost hand: every bundle is the
whole state of its frame, and `/heatmapnet/alive` lists every hand that exists. Addresses:

    /heatmapnet/frame     seq t width height
    /heatmapnet/hand      id x y w h score vx vy        one per hand (w, h: 0 without a size head)
    /heatmapnet/<field>   id value [score]              a per-track field a stage added (pose, handedness):
                                                        `<field>_score` beside it goes along as score
    /heatmapnet/<field>   id x0 y0 s0 x1 y1 s1 ...      a list of points a stage added (keypoints)
    /heatmapnet/<type>    id name score                 an event (gesture, ...)
    /heatmapnet/alive     id ...                        every hand in this frame (none: no arguments)

Coordinates are 0-1 of the frame (velocities in frame widths/heights per second) or, with
`output.osc_units=pixels`, frame pixels. `output.osc_mode=wekinator` instead sends `/wek/inputs` with a
fixed-length float list: `output.osc_hands` slots of (x y w h score vx vy), zeros where no hand is; a hand
keeps its slot while it lives, so the inputs of a model trained in Wekinator do not jump between hands.
"""
from __future__ import annotations

import socket

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from heatmapnet.errors import UserError
from heatmapnet.outputs.base import Output

PREFIX = "/heatmapnet"
WEKINATOR_ADDRESS = "/wek/inputs"
HAND_FIELDS = ("x", "y", "w", "h", "score", "vx", "vy")
TRACK_FIELDS = {"id", "x", "y", "vx", "vy", "w", "h", "score", "age", "missed"}  # records.frame_record's
MODES = ("bundle", "wekinator")
UNITS = ("normalized", "pixels")


def parse_address(setting, what: str, default_host: str | None = None) -> tuple[str, int]:
    """`HOST:PORT` (or `PORT` where a default host exists) as (host, port), checked; `[::1]:PORT` for IPv6."""
    text = str(setting).strip()
    host, _, port = text.rpartition(":")
    if not host and default_host is not None:
        host = default_host
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        form = "PORT or HOST:PORT" if default_host is not None else "HOST:PORT"
        raise UserError(f"{what}={setting!r}: expected {form} with a port from 1 to 65535, e.g. "
                        f"{what}={'127.0.0.1:' if default_host is None else ''}9000")
    return host, int(port)


def message(address: str, *values) -> OscMessageBuilder:
    builder = OscMessageBuilder(address)
    for value in values:
        builder.add_arg(value)
    return builder


def number_or_zero(value) -> float:
    """OSC has no null: a missing size (no size head) is sent as 0."""
    return 0.0 if value is None else float(value)


class OscOutput(Output):
    """Sends each frame's record as one OSC bundle (or one Wekinator message) over UDP.

    UDP needs no listener: with none, packets are simply lost (nothing to connect to, no error), so the
    receiving program can start and stop while tracking runs."""

    def __init__(self, address, mode: str = "bundle", units: str = "normalized", hands: int = 2):
        self.host, self.port = parse_address(address, "output.osc")
        if mode not in MODES:
            raise UserError(f"output.osc_mode must be one of {' '.join(MODES)}, not {mode!r}")
        if units not in UNITS:
            raise UserError(f"output.osc_units must be one of {' '.join(UNITS)}, not {units!r}")
        if not (isinstance(hands, int) and hands > 0):
            raise UserError(f"output.osc_hands must be a positive number of hands, not {hands!r}")
        self.mode, self.units, self.hands = mode, units, hands
        self.slots: dict[int, int] = {}  # Wekinator: track id -> slot
        self.socket: socket.socket | None = None

    def open(self, fps: float) -> None:
        """Resolve the host and check that it can be reached (a route exists); no packet is sent."""
        where = f"output.osc={self.host}:{self.port}"
        try:
            family, kind, protocol, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as error:
            raise UserError(f"{where}: unknown host {self.host!r} ({error.strerror}); give an IP address or a "
                            f"name this machine can resolve") from None
        self.socket = socket.socket(family, kind, protocol)
        try:
            self.socket.connect(address)  # UDP: only picks the route, so an unreachable network fails here
        except OSError as error:
            self.socket.close()
            raise UserError(f"{where}: cannot reach {self.host} ({error.strerror}); check the address and "
                            f"the network") from None

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        packet = self.wekinator(record) if self.mode == "wekinator" else self.bundle(record)
        try:
            self.socket.send(packet)
        except ConnectionRefusedError:
            pass  # the ICMP answer to an earlier packet: nobody listens at the moment, which is allowed
        except OSError as error:
            raise UserError(f"output.osc={self.host}:{self.port}: sending failed ({error.strerror})") from None

    def close(self, completed: bool = True) -> None:
        if self.socket is not None:
            self.socket.close()

    def scale(self, record: dict) -> tuple[float, float]:
        """Divisors from frame pixels to the chosen units."""
        return (float(record["width"]), float(record["height"])) if self.units == "normalized" else (1.0, 1.0)

    def hand_values(self, track: dict, sx: float, sy: float) -> list[float]:
        """x y w h score vx vy of one track in the chosen units."""
        divisors = {"x": sx, "y": sy, "w": sx, "h": sy, "score": 1.0, "vx": sx, "vy": sy}
        return [number_or_zero(track[name]) / divisors[name] for name in HAND_FIELDS]

    def bundle(self, record: dict) -> bytes:
        sx, sy = self.scale(record)
        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(message(f"{PREFIX}/frame", record["frame"], float(record["t"]), record["width"],
                                   record["height"]).build())
        for track in record["tracks"]:
            bundle.add_content(message(f"{PREFIX}/hand", track["id"], *self.hand_values(track, sx, sy)).build())
            for field, values in self.extra_fields(track, sx, sy):
                bundle.add_content(message(f"{PREFIX}/{field}", track["id"], *values).build())
        for event in record.get("events", ()):
            bundle.add_content(message(f"{PREFIX}/{event.get('type', 'event')}", int(event.get("id", 0)),
                                       str(event.get("name", "")), float(event.get("score", 1.0))).build())
        bundle.add_content(message(f"{PREFIX}/alive", *(track["id"] for track in record["tracks"])).build())
        return bundle.build().dgram

    def extra_fields(self, track: dict, sx: float, sy: float):
        """(field, values) for what stages added to a track: a name or number (with `<field>_score` when
        there is one), or a list of points [x, y(, score)] / {"x", "y"(, "score")} in frame pixels."""
        for field, value in track.items():
            if field in TRACK_FIELDS or field.endswith("_score") or value is None:
                continue
            if isinstance(value, (list, tuple)):
                yield field, [v for point in value for v in self.point(point, sx, sy)]
            elif isinstance(value, (str, bool, int, float)):
                score = track.get(f"{field}_score")
                value = value if isinstance(value, str) else float(value)
                yield field, [value] if score is None else [value, float(score)]

    @staticmethod
    def point(point, sx: float, sy: float) -> tuple[float, float, float]:
        if isinstance(point, dict):
            x, y, score = point.get("x"), point.get("y"), point.get("score", 1.0)
        else:
            x, y, score = (*point, 1.0)[:3]
        return number_or_zero(x) / sx, number_or_zero(y) / sy, number_or_zero(score)

    def wekinator(self, record: dict) -> bytes:
        """`/wek/inputs` with `hands` slots of HAND_FIELDS; a new hand takes the lowest free slot."""
        sx, sy = self.scale(record)
        alive = {track["id"] for track in record["tracks"]}
        self.slots = {i: slot for i, slot in self.slots.items() if i in alive}
        values = [0.0] * (self.hands * len(HAND_FIELDS))
        for track in record["tracks"]:
            if track["id"] not in self.slots:
                free = sorted(set(range(self.hands)) - set(self.slots.values()))
                if not free:
                    continue  # more hands than slots: the later ones wait for a slot
                self.slots[track["id"]] = free[0]
            start = self.slots[track["id"]] * len(HAND_FIELDS)
            values[start:start + len(HAND_FIELDS)] = self.hand_values(track, sx, sy)
        return message(WEKINATOR_ADDRESS, *values).build().dgram

"""Kill runs: SIGKILL a process at a random moment after its token answer arrived, then count lost sign-ins.

Each round runs one fresh process that calls ``exports.refresh(force=True)``
and writes two marker bytes to its stdout: ``A`` the instant the answer's
bytes have been read (before anything is done with them) and ``J`` once they
are in the grant journal. The runner kills it a random 0-``window`` seconds
after ``A``, then a fresh ``Account`` settles what was left and must still be
able to refresh.

What a kill can lose depends on the provider:

- With a rotation grace (xAI's own client assumes about a minute), the
  refresh token a dead process spent is honoured once more, so nothing is
  ever lost, wherever the kill lands.
- With none (the emulator made strict), a kill between ``A`` and ``J`` takes
  the only copy of the new refresh token with it. No client can close that
  window, only keep it short; so those kills are counted apart
  (``killed_before_journal``) and only kills after the journal write must
  lose nothing.

The tests assert on the outcome; ``bench/bench_kills.py`` prints it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from ._demo import SKILL_DIR
from ._server import Emulator
from ._storm import sign_in

__all__ = ["KillResult", "run_kills", "spawn_refresh"]

#: The child: everything as an agent's process would do it, plus one marker byte when the answer arrives.
_CHILD = """
import os, sys, time
sys.path.insert(0, {skill_dir!r})
from xai_oauth.store import _journal
_on_arrival = _journal.GrantJournal.on_arrival
def on_arrival(self, now):
    inner = _on_arrival(self, now)
    def arrived(status, raw):
        os.write(1, b"A")
        inner(status, raw)
        os.write(1, b"J")
        if {hold!r}:
            os.read(0, 1)  # held between the journal write and the save, until the runner kills it
    return arrived
_journal.GrantJournal.on_arrival = on_arrival
import exports
result = exports.refresh(force=True)
os.write(1, b"D" if result.get("ok") else b"E")
time.sleep({linger!r})
"""


@dataclass(frozen=True)
class KillResult:
    kills: int
    #: seconds the provider honours a rotated-away refresh token (0: strict)
    rotation_grace: float
    #: kills that landed after the answer arrived and before it was journaled (no ``J`` marker)
    killed_before_journal: int
    #: sign-ins lost to those kills (the provider had to be signed into again); only a grace can prevent these
    lost_before_journal: int
    #: sign-ins lost to kills that landed after the journal write: the journal's promise is that this is 0
    lost_after_journal: int
    #: kills that landed before the new credential was saved: a later process adopted it from the journal
    adopted_from_journal: int
    #: kills that landed after the save (nothing to recover)
    after_save: int
    window_ms: float
    seconds: float

    @property
    def lost(self) -> int:
        return self.lost_before_journal + self.lost_after_journal

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "lost": self.lost}


def spawn_refresh(env: dict[str, str], linger: float = 60.0, *, hold: bool = False) -> subprocess.Popen[bytes]:
    """A fresh process running ``exports.refresh(force=True)`` that prints ``A`` when its answer arrives.

    With ``hold`` it stops after the journal write (``J``), before the save, until it is killed.
    """
    code = _CHILD.format(skill_dir=SKILL_DIR, linger=linger, hold=hold)
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def run_kills(
    emulator: Emulator,
    kills: int,
    *,
    window: float = 0.005,
    seed: int = 11,
    rotation_grace: float = 0.0,
    held: int = 0,
) -> KillResult:
    """``kills`` rounds of: refresh in a fresh process, SIGKILL it 0-``window`` s after its answer, check.

    ``rotation_grace`` is the provider's for the run (0: strict, the worst case). The first ``held`` rounds kill
    the process where it waits between the journal write and the save, so that moment is met whatever the
    machine's speed (a random kill lands there only as often as the machine's timing allows).
    """
    from .._config import Config
    from .._exceptions import ReauthRequired
    from ..auth._account import Account

    rng = random.Random(seed)
    grace = emulator.settings.rotation_grace
    emulator.settings.rotation_grace = rotation_grace
    before_journal = lost_before = lost_after = adopted = after_save = 0
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="xai-oauth-kills-") as home:
            env = {**os.environ, **emulator.environ(), "XAI_OAUTH_HOME": home, "XAI_OAUTH_STORE": "file"}
            sign_in(emulator, env)
            for round_number in range(kills):
                hold = round_number < held
                child = spawn_refresh(env, hold=hold)
                assert child.stdout is not None
                marker = child.stdout.read(1)
                if marker != b"A":
                    child.kill()
                    raise RuntimeError(f"the child never got its answer: {child.communicate()[1][-400:]!r}")
                if hold:
                    if child.stdout.read(1) != b"J":
                        child.kill()
                        raise RuntimeError(f"the child never journaled: {child.communicate()[1][-400:]!r}")
                else:
                    time.sleep(rng.uniform(0, window))
                child.send_signal(signal.SIGKILL)
                journaled = b"J" in child.communicate()[0] or hold  # a held child's J was read already
                before_journal += not journaled
                with Account(Config.from_env(env)) as account:
                    notes = account.status().get("notes") or []
                    if any("Recovered" in str(note) for note in notes):
                        adopted += 1
                    else:
                        after_save += 1
                    try:
                        account.refresh(force=True)
                    except ReauthRequired:
                        if journaled:
                            lost_after += 1
                        else:
                            lost_before += 1
                        account.logout()
                        sign_in(emulator, env)
    finally:
        emulator.settings.rotation_grace = grace
    return KillResult(
        kills=kills,
        rotation_grace=rotation_grace,
        killed_before_journal=before_journal,
        lost_before_journal=lost_before,
        lost_after_journal=lost_after,
        adopted_from_journal=adopted,
        after_save=after_save,
        window_ms=window * 1000,
        seconds=round(time.perf_counter() - started, 1),
    )

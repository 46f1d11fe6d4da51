"""MuJoCo Hopper state sequences (Rubanova, Chen, Duvenaud 2019, sec. 4.2 "MuJoCo").

A planar one-legged hopper with 7 degrees of freedom (root z, root x, root pitch, waist, hip,
knee, ankle), written here in MJCF after the layout of DeepMind Control's ``hopper``. Each
trajectory starts from a random state drawn as in Rubanova et al.'s ``mujoco_physics.py``
(root x, z ~ U(0, 0.5); joint angles ~ U(-2, 2); velocities ~ U(-5, 5)) and is simulated
passively (no actuation) for ``n_steps`` control steps; the state (7 qpos + 7 qvel) is min-max
normalised per dimension over the whole set. Deterministic given the seed and cached on disk.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from latent_ebm.core.checks import check_int
from latent_ebm.ode_lebm.systems import Sequences, time_grid

__all__ = ["HOPPER_XML", "hopper_sequences"]

HOPPER_XML = """
<mujoco model="planar hopper">
  <option timestep="0.005" integrator="RK4"/>
  <default>
    <joint limited="true" damping="0.05" armature="0.2" solimplimit="0 0.99 0.01"/>
    <geom type="capsule" friction="0.8 0.02 0.02" condim="3" solref="0.02 1" solimp="0.8 0.8 0.01"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="20 2 0.1" pos="0 0 0"/>
    <body name="torso" pos="0 0 1.0">
      <joint name="rootz" type="slide" axis="0 0 1" limited="false" armature="0" damping="0"/>
      <joint name="rootx" type="slide" axis="1 0 0" limited="false" armature="0" damping="0"/>
      <joint name="rooty" type="hinge" axis="0 1 0" limited="false" armature="0" damping="0"/>
      <geom name="torso" fromto="0 0 -0.05 0 0 0.2" size="0.0653"/>
      <body name="pelvis" pos="0 0 -0.05">
        <joint name="waist" type="hinge" axis="0 1 0" range="-30 30"/>
        <geom name="pelvis" fromto="0 0 0 0 0 -0.15" size="0.065"/>
        <body name="thigh" pos="0 0 -0.2">
          <joint name="hip" type="hinge" axis="0 1 0" range="-170 10"/>
          <geom name="thigh" fromto="0 0 0 0 0 -0.33" size="0.04"/>
          <body name="calf" pos="0 0 -0.33">
            <joint name="knee" type="hinge" axis="0 1 0" range="5 150"/>
            <geom name="calf" fromto="0 0 0 0 0 -0.32" size="0.03"/>
            <body name="foot" pos="0 0 -0.32">
              <joint name="ankle" type="hinge" axis="0 1 0" range="-45 45"/>
              <geom name="foot" fromto="-0.08 0 0 0.17 0 0" size="0.04"/>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


def _cache_dir() -> Path:
    """Generated data is kept apart from the downloaded-dataset cache (which may be read-only):
    ``$LATENT_EBM_GENERATED_DIR`` or ``~/.cache/latent-ebm-generated``."""
    root = os.environ.get("LATENT_EBM_GENERATED_DIR") or Path.home() / ".cache" / "latent-ebm-generated"
    return Path(root) / "ode-lebm-hopper"


def _simulate(n: int, n_steps: int, substeps: int, seed: int, gravity: float) -> np.ndarray:
    import mujoco

    model = mujoco.MjModel.from_xml_string(HOPPER_XML)
    model.opt.gravity[:] = (0.0, 0.0, -gravity)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_steps, model.nq + model.nv))
    for i in range(n):
        mujoco.mj_resetData(model, data)
        data.qpos[:2] = rng.uniform(0, 0.5, size=2)
        data.qpos[2:] = rng.uniform(-2, 2, size=model.nq - 2)
        data.qvel[:] = rng.uniform(-5, 5, size=model.nv)
        mujoco.mj_forward(model, data)
        for k in range(n_steps):
            out[i, k, : model.nq] = data.qpos
            out[i, k, model.nq :] = data.qvel
            for _ in range(substeps):
                mujoco.mj_step(model, data)
    return out


def hopper_sequences(
    n: int,
    n_steps: int = 200,
    *,
    substeps: int = 2,
    every: int = 1,
    seed: int = 0,
    gravity: float = 9.81,
    cache: bool = True,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Sequences, tuple[np.ndarray, np.ndarray]]:
    """``n`` Hopper trajectories of ``n_steps`` control steps (``substeps`` × 5 ms each), kept
    every ``every``-th step, min-max normalised to [0, 1].

    ``gravity`` (m/s², default Earth's) is the dynamical parameter changed for OOD test sets.
    ``bounds`` = (min, max) per dimension from the training set (computed here when None) so
    that a test set is normalised like its training set. Returns (sequences, bounds);
    t is in control steps / 100 (one unit = 100 steps), params: (N, 1) the trajectory index.
    """
    check_int("n", n, low=1)
    check_int("n_steps", n_steps, low=2)
    check_int("every", every, low=1)
    check_int("substeps", substeps, low=1)
    key = hashlib.sha256(f"{HOPPER_XML}|{n}|{n_steps}|{substeps}|{seed}|{gravity}".encode()).hexdigest()[:16]
    path = _cache_dir() / f"hopper-{key}.npy"
    if cache and path.exists():
        raw = np.load(path)
    else:
        raw = _simulate(n, n_steps, substeps, seed, gravity)
        if cache:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, raw)
                os.replace(tmp, path)
            except OSError:  # read-only location: keep going without a cache
                pass
    raw = raw[:, ::every]
    if bounds is None:
        bounds = (raw.min(axis=(0, 1)), raw.max(axis=(0, 1)))
    lo, hi = bounds
    x = (raw - lo) / np.maximum(hi - lo, 1e-8)
    t = time_grid(raw.shape[1], every / 100.0)
    seqs = Sequences(
        t=torch.as_tensor(t, dtype=torch.float32),
        x=torch.as_tensor(x, dtype=torch.float32),
        params=torch.arange(n, dtype=torch.float32)[:, None],
    )
    return seqs, bounds

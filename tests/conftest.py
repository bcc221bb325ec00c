"""Shared fixtures: one local Ray instance for every test that needs it.

Starting Ray costs seconds, so the tests that run trials on Ray share one instance, started on
first use and shut down at the end of the session. It declares one logical GPU on CPU-only
machines so placement of fractional-GPU trials can be checked without a GPU. It is a fresh local
instance (`address="local"`), never a cluster the machine happens to run.
"""

from __future__ import annotations

import os

import pytest

LOGICAL_GPUS = 1


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs and LOGICAL_GPUS logical GPUs, shared by the whole session."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, num_gpus=LOGICAL_GPUS, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()

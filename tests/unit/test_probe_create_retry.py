"""A probe pod POST whose answer was lost (timeout, reset, apiserver restart) is retried by the
client; the retry's 409 means the pod exists, and it is ours (the name carries the run id)."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from ossm_conformance.findings import CouldNotCheck
from ossm_conformance.mtls import probes

POD = {"metadata": {"name": "ossm-probe-abc-0", "namespace": "ossm-conformance"}}


class Refusing:
    def __init__(self, status: int):
        self.status = status

    def post(self, path, body):
        raise ApiException(status=self.status, reason="refused")


def test_conflict_after_a_lost_answer_counts_as_created():
    probes.create_pod(Refusing(409), POD)


def test_forbidden_is_still_could_not_check():
    with pytest.raises(CouldNotCheck, match="create pod ossm-probe-abc-0"):
        probes.create_pod(Refusing(422), POD)

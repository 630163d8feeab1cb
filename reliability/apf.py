"""Real 429s from API Priority and Fairness: a priority level with almost no seats, queuing off
(reject at once), and a FlowSchema that sends the suite's user there.

The apiserver answers the rejected requests with 429 and a Retry-After header; the suite must
honour it and retry within its budget, so no verdict changes. The figure reported is the
apiserver's own count of rejections (apiserver_flowcontrol_rejected_requests_total).
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from kubernetes.client.exceptions import ApiException

from .fault import Fault, LabContext
from .identity import USER

FLOWCONTROL = "/apis/flowcontrol.apiserver.k8s.io/v1"
NAME = "ossm-reliability-starved"
SHARES = 1          # of ~245 shares in a default cluster: 3 seats of the lab's 600
PRECEDENCE = 200    # before global-default (9900) and catch-all (10000), after exempt (1)

LEVEL = {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
         "metadata": {"name": NAME},
         "spec": {"type": "Limited", "limited": {
             "nominalConcurrencyShares": SHARES, "lendablePercent": 0, "borrowingLimitPercent": 0,
             "limitResponse": {"type": "Reject"}}}}
SCHEMA = {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
          "metadata": {"name": NAME},
          "spec": {"priorityLevelConfiguration": {"name": NAME}, "matchingPrecedence": PRECEDENCE,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [{"subjects": [{"kind": "User", "user": {"name": USER}}],
                              "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                                 "clusterScope": True, "namespaces": ["*"]}],
                              "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}}
_REJECTED = re.compile(r'^apiserver_flowcontrol_rejected_requests_total\{[^}]*priority_level="%s"[^}]*\} (\S+)$' % NAME, re.M)
_DISPATCHED = re.compile(r'^apiserver_flowcontrol_dispatched_requests_total\{[^}]*priority_level="%s"[^}]*\} (\S+)$' % NAME, re.M)


class ApfStarvation(Fault):
    kind = "APF 429s"
    setting = f"priority level with {SHARES} share, queuing off (Reject)"

    def __init__(self):
        self.lab: LabContext | None = None
        self.rejected = self.dispatched = 0.0

    @contextmanager
    def installed(self, lab: LabContext):
        self.lab = lab
        for path, body in ((f"{FLOWCONTROL}/prioritylevelconfigurations", LEVEL), (f"{FLOWCONTROL}/flowschemas", SCHEMA)):
            try:
                lab.admin.request("POST", path, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        before = self._counts()
        try:
            yield
        finally:
            after = self._counts()
            self.rejected += after[0] - before[0]
            self.dispatched += after[1] - before[1]
            for path in (f"{FLOWCONTROL}/flowschemas/{NAME}", f"{FLOWCONTROL}/prioritylevelconfigurations/{NAME}"):
                try:
                    lab.admin.request("DELETE", path)
                except ApiException as exc:
                    if exc.status != 404:
                        raise

    def _counts(self) -> tuple[float, float]:
        text = self.lab.admin.client.call_api("/metrics", "GET", header_params={"Accept": "text/plain"},
                                              auth_settings=["BearerToken"], _preload_content=False,
                                              _return_http_data_only=True).data.decode()
        return (sum(float(v) for v in _REJECTED.findall(text)), sum(float(v) for v in _DISPATCHED.findall(text)))

    def observed(self) -> str:
        total = self.rejected + self.dispatched
        share = f" ({100 * self.rejected / total:.0f}% of {int(total)} requests)" if total else ""
        return f"{int(self.rejected)} × 429{share}"

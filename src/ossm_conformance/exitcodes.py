"""The suite's exit codes: each outcome of a run has one code and one meaning.

pytest's own codes are kept where they already mean what we need; "could not check" gets a
code of its own so that a nightly job never reads an unreadable cluster as non-conformance,
nor as success.
"""

CONFORMANT = 0        # every selected check read the cluster and it matches the profile
NON_CONFORMANT = 1    # at least one check failed: the cluster does not match the profile
INTERRUPTED = 2       # Ctrl-C / SIGTERM (probe pods are still removed)
INTERNAL_ERROR = 3    # a defect in the suite itself
BAD_INVOCATION = 4    # bad options, profile file, kubeconfig file or context, target version
NOTHING_SELECTED = 5  # no test collected: a failure for CI (an empty selection proves nothing)
COULD_NOT_CHECK = 12  # the cluster could not be read (unreachable, 401, TLS, forbidden, missing kind)
GATE_NO_GO = 13       # pre-upgrade gate: the checks ran and the verdict is no-go

DESCRIPTIONS = {
    CONFORMANT: "conformant",
    NON_CONFORMANT: "non-conformant",
    INTERRUPTED: "interrupted",
    INTERNAL_ERROR: "suite defect (internal error)",
    BAD_INVOCATION: "bad invocation",
    NOTHING_SELECTED: "nothing selected",
    COULD_NOT_CHECK: "could not check",
    GATE_NO_GO: "pre-upgrade gate: no-go",
}

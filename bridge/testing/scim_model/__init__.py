"""A reference model of SCIM 2.0 users and groups, and random request sequences checked against it.

The bridge is driven over HTTP and the model follows RFC 7644 plainly, with no code of the bridge's
own: after every step the resources the step touched must read back as the model expects (issue 15,
point 3). Used by ``tests/http/test_model_sequences.py``, ``tests/integration/test_model_sequences_slapd.py``
and ``python -m bench.model_run``.

* :mod:`.schema`   the RFC 7643 attributes a request may name, and PATCH paths
* :mod:`.stored`   what the attribute map keeps of a resource: the view a GET should show
* :mod:`.patch`    RFC 7644 section 3.5.2 over a plain dict
* :mod:`.model`    users and groups, and the outcome each request should have
* :mod:`.generate` random requests, seeded
* :mod:`.run`      a seeded sequence against a client, step by step, with a report on disagreement
"""

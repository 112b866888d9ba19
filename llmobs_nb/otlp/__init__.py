"""OpenTelemetry's wire format, both ways.

In: :mod:`~llmobs_nb.otlp.decode` turns OTLP requests (protobuf or JSON) into SDK spans, which
:mod:`~llmobs_nb.otlp.receiver` (``obs.receive_otlp``) and :mod:`~llmobs_nb.otlp.files`
(``llmobs_nb.ingest``) hand to the capture's sink like this process's own spans.

Out: the rows the capture wrote are encoded as OTLP, in both the OpenTelemetry GenAI and the
OpenInference conventions, and sent by a child process, off the traced code's path.
"""

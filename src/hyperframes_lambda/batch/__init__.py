"""Batches: one composition rendered once per row of a JSONL rows file (personalised video).

:mod:`.rows` reads and checks a rows file (shared by the local batch, the AWS client and
the Lambda steps); :mod:`.local` renders a rows file on this machine with its browsers
reused across rows. The AWS side is :mod:`hyperframes_lambda.aws.batch` (client) and
:mod:`hyperframes_lambda.handler.batch_steps` (the batch state machine's Lambda steps).
"""

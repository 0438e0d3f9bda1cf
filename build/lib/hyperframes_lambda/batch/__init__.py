"""Batches: one composition rendered once per row of a JSONL rows file (personalised video).

:mod:`.rows` reads and checks a rows file, :mod:`.layout` names a server-side batch's objects
in S3. Both stand on their own floor, below the AWS client and above the ground. This folder
may import only the ground (:mod:`hyperframes_lambda.errors`), so the local batch
(:mod:`hyperframes_lambda.runner.batch`), the AWS client (:mod:`hyperframes_lambda.aws.batch`)
and the batch state machine's Lambda steps (:mod:`hyperframes_lambda.handler.batch_steps`)
share them.
"""

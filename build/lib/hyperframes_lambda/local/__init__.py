"""Lambda and Step Functions on this machine, no AWS account: a way in (the top layer).

    step_functions  ``python -m hyperframes_lambda.local``: the state machine's flow (plan,
                    the chunks in parallel, assemble) against the real handler, in worker
                    processes or over HTTP to a runtime interface emulator
    rie             ``python -m hyperframes_lambda.rie``: a Docker-free Lambda runtime
                    interface emulator running the real ``awslambdaric`` client
    runtime_api     the Lambda Runtime API and the RIE invoke endpoint it serves
    emulate         ``hyperframes-lambda lambda emulate``: a whole stack on 127.0.0.1 (moto's
                    S3, CloudFormation and Step Functions running the real state machine,
                    Lambda invocations to the real handler through ``rie``)

May import: ``handler/`` (it calls the handler the way Lambda does), ``runner/`` (exit codes
and interrupts), ``aws/`` (the state machine definition, the stack's outputs) and the
ground modules. Only the ``lambda`` commands (``lambda_cli``) import it.
"""

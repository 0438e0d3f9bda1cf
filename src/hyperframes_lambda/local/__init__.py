"""Lambda and Step Functions on this machine, no AWS account: a way in (the top layer).

    step_functions  ``python -m hyperframes_lambda.local``: the state machine's flow (plan,
                    the chunks in parallel, assemble) against the real handler, in worker
                    processes or over HTTP to a runtime interface emulator
    rie             ``python -m hyperframes_lambda.rie``: a Docker-free Lambda runtime
                    interface emulator running the real ``awslambdaric`` client
    runtime_api     the Lambda Runtime API and the RIE invoke endpoint it serves

May import: ``handler/`` (it calls the handler the way Lambda does), ``runner/`` (exit codes
and interrupts) and the ground modules. Nothing in the package imports it.
"""

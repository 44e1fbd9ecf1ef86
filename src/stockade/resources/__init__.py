"""Resources: what a training run or a served model will need (memory, time), from config.json alone,
and the fit check that refuses a job the machine cannot hold. See docs/estimate.md."""
